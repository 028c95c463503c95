"""A connector whose serve keeps failing is restarted after growing, bounded, jittered waits, and
after a healthy run the waits start small again. The clock and the wait are injected: nothing sleeps."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from hub.core import connector_runtime
from hub.core.config import HubSettings
from hub.core.connector import Connector, ConnectorConfig
from hub.core.connector_runtime import ConnectorRuntime


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Stop(threading.Event):
    """Records each wait instead of waiting, lets the clock pass, and stops after `limit` waits."""

    def __init__(self, clock: _Clock, limit: int) -> None:
        super().__init__()
        self.clock, self.limit = clock, limit
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        self.clock.now += timeout
        if len(self.waits) >= self.limit:
            self.set()
        return self.is_set()


class _NoOptions(BaseModel):
    pass


class _Failing(Connector):
    """Fails each time it is served; `runs_s` says how long each run lasted before it failed."""

    kind = "failing"
    Options = _NoOptions

    def __init__(self, config: ConnectorConfig, settings: HubSettings, clock: _Clock, runs_s: list[float]) -> None:
        super().__init__(config, settings)
        self.clock, self.runs_s, self.served, self.closed = clock, runs_s, 0, False

    def serve(self, stop: threading.Event, sink: Any) -> None:
        self.clock.now += self.runs_s[self.served] if self.served < len(self.runs_s) else 0.01
        self.served += 1
        raise ConnectionError("source down")

    def close(self) -> None:
        self.closed = True


def _serve(tmp_path: Path, failures: int, runs_s: list[float] | None = None) -> tuple[list[float], _Failing]:
    config = ConnectorConfig(name="th01-his", kind="failing", facility_id="th01")
    clock = _Clock()
    connector = _Failing(config, HubSettings(data_dir=tmp_path), clock, runs_s or [])
    runtime = ConnectorRuntime(config, connector, None, None, None)  # type: ignore[arg-type]  # _serve uses none of them
    stop = _Stop(clock, failures)
    runtime._serve(stop, clock=clock)
    return stop.waits, connector


def _nominal(n: int) -> list[float]:
    first, cap = connector_runtime.RESTART_FIRST_S, connector_runtime.RESTART_MAX_S
    return [min(cap, first * 2**i) for i in range(n)]


def test_restarts_back_off_growing_bounded_and_jittered(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    waits, connector = _serve(tmp_path, failures=12)
    assert connector.served == 12 and connector.closed
    jitter = connector_runtime.RESTART_JITTER
    for wait, nominal in zip(waits, _nominal(12), strict=True):
        assert nominal * (1 - jitter) <= wait <= nominal * (1 + jitter)
    assert all(later > earlier for earlier, later in zip(waits[:6], waits[1:7], strict=True))  # 1, 2, 4, ... 64 > 60
    assert max(waits) <= connector_runtime.RESTART_MAX_S * (1 + jitter)
    assert waits[0] < 2 and min(waits[7:]) >= connector_runtime.RESTART_MAX_S * (1 - jitter)  # from 1 s, to 60 s
    assert any(abs(w - n) > 1e-6 for w, n in zip(waits, _nominal(12), strict=True)), "no jitter"
    assert len({round(w, 6) for w in waits[7:]}) > 1, "the capped waits are all alike: no jitter"
    assert "connector th01-his failed; restarting in" in caplog.text and "source down" in caplog.text


def test_a_healthy_run_starts_the_backoff_again(tmp_path: Path) -> None:
    healthy = connector_runtime.HEALTHY_AFTER_S
    waits, _ = _serve(tmp_path, failures=7, runs_s=[0.01, 0.01, 0.01, 0.01, healthy + 1, 0.01, 0.01])
    first = connector_runtime.RESTART_FIRST_S
    jitter = connector_runtime.RESTART_JITTER
    assert waits[3] >= 8 * first * (1 - jitter)  # four quick failures: 1, 2, 4, 8 s
    assert first * (1 - jitter) <= waits[4] <= first * (1 + jitter)  # failed after a healthy run: 1 s again
    assert 2 * first * (1 - jitter) <= waits[5] <= 2 * first * (1 + jitter)
