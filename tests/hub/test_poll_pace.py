"""A pull connector's pauses: short right after a poll found something, growing back to the configured
interval while nothing comes, so a busy member's rows wait a fraction of it and a quiet member's system
is asked once per interval. The pauses are read off the stop event, not timed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.core.config import HubSettings
from hub.core.connector import Connector, ConnectorConfig
from hub.core.events import PollResult
from tests.factories import encounter_event
from tests.hub.test_connector_restarts import _Clock, _NoOptions, _Stop


class _Scripted(Connector):
    """Polls answer with rows on the polls named in `busy`, with nothing otherwise."""

    kind = "scripted"
    Options = _NoOptions

    def __init__(self, busy: set[int], interval_s: float) -> None:
        super().__init__(ConnectorConfig(name="scripted", kind="scripted", facility_id="th01",
                                         poll_interval_s=interval_s), HubSettings())
        self.busy, self.polls = busy, 0

    def poll(self, checkpoints: Mapping[str, str]) -> PollResult:
        self.polls += 1
        return PollResult(events=[encounter_event()] if self.polls in self.busy else [])


class _Sink:
    def checkpoints(self) -> dict[str, str]:
        return {}

    def accept(self, result: Any) -> None:
        pass


def _pauses(busy: set[int], polls: int, interval_s: float = 1.0) -> list[float]:
    stop = _Stop(_Clock(), polls)  # records each pause instead of waiting; set after `polls` of them
    _Scripted(busy, interval_s).serve(stop, _Sink())  # type: ignore[arg-type]
    return stop.waits


def test_a_quiet_member_is_asked_about_once_per_interval() -> None:
    pauses = _pauses(busy=set(), polls=12)
    assert all(p <= 1.1 for p in pauses)
    assert all(0.9 <= p <= 1.1 for p in pauses[3:])  # 1/8, 1/4, 1/2 of it at start, then the interval


def test_after_new_rows_the_next_looks_come_sooner_and_slow_down_while_nothing_comes() -> None:
    # Poll 1 finds rows (no pause), then nothing: 1/8, 1/4, 1/2, 1, 1 of the interval.
    pauses = _pauses(busy={1, 7}, polls=8, interval_s=0.8)
    expected = [0.1, 0.2, 0.4, 0.8, 0.8, 0.1, 0.2, 0.4]  # poll 7 finds rows: the pauses start short again
    assert len(pauses) == len(expected)
    for asked, wanted in zip(pauses, expected, strict=True):
        assert abs(asked - wanted) <= wanted * 0.1 + 1e-9, (pauses, expected)
