"""The escalation worker: every few seconds it finds open notices past their deadline and takes the next
step, each notice in its own transaction. Steps are stored on the notice row, so a restart neither
repeats nor skips one, and two hub processes never take the same step twice (the row is locked)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from consumers.critical_values import metrics
from consumers.critical_values.notices import Desk, count_open, due_notices, escalate
from consumers.critical_values.rules import load_rules
from hub.core.db import Database, is_retriable
from hub.core.events import utcnow
from hub.core.parts import PartContext

log = logging.getLogger(__name__)


class Escalator:
    def __init__(self, database: Database, desk: Desk, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.desk = desk
        self.clock = clock

    def run_once(self) -> list[tuple[str, int]]:
        """One pass: the steps taken, as (notice id, level reached). Also refreshes the open-notice gauge."""
        now = self.clock()
        with self.database.reading() as session:
            due = due_notices(session, now)
        taken = []
        for notice in due:
            with self.database.transaction() as session:
                level = escalate(session, self.desk, notice, now)
            if level is not None:
                taken.append((notice, level))
                log.warning("critical-value notice %s not acknowledged in time: escalated to level %d", notice, level)
        with self.database.reading() as session:
            for level, count in count_open(session).items():
                metrics.OPEN.labels(str(level)).set(count)
        return taken


def run(context: PartContext, stop: threading.Event) -> None:
    """The worker the hub starts beside the consumer (Part.workers)."""
    if context.results is None:
        raise ValueError("the critical-value escalation needs the results outbox (PartContext.results)")
    rules = load_rules(context.settings.critical_rules)
    desk = Desk(rules, context.settings.critical_ack_s, context.results, context.services.shared_record)
    escalator = Escalator(context.database, desk)
    while not stop.is_set():
        try:
            escalator.run_once()
        except Exception as exc:  # noqa: BLE001 - nothing may end the worker: the next pass tries again
            if is_retriable(exc):  # the database is down or busy: one line, no traceback every few seconds
                log.warning("critical-value escalation waits for the database (%s); trying again in %.0f s",
                            type(exc).__name__, rules.check_every_s)
            else:
                log.exception("critical-value escalation pass failed; trying again in %.0f s", rules.check_every_s)
        stop.wait(rules.check_every_s)
