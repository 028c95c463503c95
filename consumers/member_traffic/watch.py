"""The worker that judges the members every `HUB_MEMBER_CHECK_S` and sets their metrics
(hub_facility_last_event_timestamp_seconds, hub_facility_silence_threshold_seconds, hub_facility_silent),
and forgets hours older than the history window."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from consumers.member_traffic.queries import forget_old_hours, judge_members
from consumers.member_traffic.silence import SilencePolicy
from hub.core import metrics
from hub.core.db import Database, is_retriable
from hub.core.events import utcnow
from hub.core.parts import PartContext
from hub.core.services import MemberState

log = logging.getLogger(__name__)


class Watch:
    def __init__(self, database: Database, policy: SilencePolicy, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.policy = policy
        self.clock = clock
        self.silent: set[str] = set()  # who was silent at the last pass: each change is logged once

    def run_once(self) -> list[MemberState]:
        now = self.clock()
        with self.database.transaction() as session:
            forget_old_hours(session, self.policy, now)
        with self.database.reading() as session:
            members = judge_members(session, self.policy, now)
        for member in members:
            publish(member)
            if member.silent and member.facility_id not in self.silent:
                log.warning("member %s is silent: nothing for %.0f s, more than its threshold of %.0f s (it usually "
                            "sends %.1f events an hour now)", member.facility_id, member.quiet_for_s or 0,
                            member.threshold_s or 0, member.usual_per_hour)
            elif not member.silent and member.facility_id in self.silent:
                log.info("member %s is sending again", member.facility_id)
        self.silent = {member.facility_id for member in members if member.silent}
        return members


def publish(member: MemberState) -> None:
    """Sets the member's gauges. A member that is not judged (learning, sparse) has no threshold series,
    so `time() - last > threshold` cannot fire for it."""
    facility = member.facility_id
    if member.last_event_at is not None:
        metrics.FACILITY_LAST_EVENT.labels(facility).set(member.last_event_at)
    if member.threshold_s is None:
        with contextlib.suppress(KeyError):  # it never had one
            metrics.FACILITY_SILENCE_THRESHOLD.remove(facility)
    else:
        metrics.FACILITY_SILENCE_THRESHOLD.labels(facility).set(member.threshold_s)
    metrics.FACILITY_SILENT.labels(facility).set(1 if member.silent else 0)


def run(context: PartContext, stop: threading.Event) -> None:
    """The worker the hub starts beside the consumer (Part.workers)."""
    settings = context.settings
    watch = Watch(context.database, SilencePolicy.from_settings(settings))
    while not stop.is_set():
        try:
            watch.run_once()
        except Exception as exc:  # noqa: BLE001 - nothing may end the worker: the next pass tries again
            if is_retriable(exc):
                log.warning("member watch waits for the database (%s); trying again in %.0f s",
                            type(exc).__name__, settings.member_check_s)
            else:
                log.exception("member watch pass failed; trying again in %.0f s", settings.member_check_s)
        stop.wait(settings.member_check_s)
