"""The sender: one thread per destination sends its queued messages, each patient's in order, and
waits with backoff while the member is down. A message counts as delivered only when the member
acknowledged it; a refusal dead-letters it with the member's reason and the patient's next one goes.

At least once: a message whose ACK arrived but whose acknowledgement was not yet written (the hub
stopped in between) is sent again after a restart, with the same MSH-10 / Bundle id."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from consumers.delivery import queue
from consumers.delivery.fhir_post import FhirTransport
from consumers.delivery.mllp_send import MllpTransport
from consumers.delivery.routing import Route, all_routes, routes_from
from consumers.delivery.transport import Outcome, Transport
from hub.core import metrics
from hub.core.db import Database, is_retriable
from hub.core.destinations import MllpDestination
from hub.core.errors import RetriableError
from hub.core.events import utcnow
from hub.core.parts import PartContext
from hub.core.retry import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pacing:
    """How often and how patiently the sender tries (tests make it quick)."""

    idle_s: float = 1.0  # look for new messages this often when there is nothing to send
    down_initial_s: float = 1.0  # destination unreachable: first wait, doubling up to down_max_s
    down_max_s: float = 60.0
    retry_initial_s: float = 2.0  # one message failed: its first wait, doubling up to retry_max_s
    retry_max_s: float = 300.0
    retention_h: float = 168.0  # acknowledged messages are forgotten after this long
    batch: int = 50
    hold_s: float = 60.0  # a sender holds its destination this long past its last message (see queue.claim)
    gauge_s: float = 5.0  # the backlog gauges are counted again this often while nothing is sent


def transport_for(route: Route) -> Transport:
    if isinstance(route.destination, MllpDestination):
        return MllpTransport(route.destination)
    return FhirTransport(route.destination)


def retry_delay(attempts: int, initial_s: float, max_s: float) -> float:
    """The wait before a message's next attempt, after `attempts` failed ones (with jitter)."""
    backoff = Backoff(initial_s=initial_s, max_s=max_s)
    delay = 0.0
    for _ in range(max(1, min(attempts, 32))):
        delay = backoff.next()
    return delay


@dataclass
class DestinationSender:
    route: Route
    db: Database
    pacing: Pacing = field(default_factory=Pacing)
    transport: Transport | None = None

    def __post_init__(self) -> None:
        self.transport = self.transport or transport_for(self.route)
        self.down = Backoff(initial_s=self.pacing.down_initial_s, max_s=self.pacing.down_max_s)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._gauged_at: float | None = None  # when the backlog was last counted; None: count it now

    def run(self, stop: threading.Event) -> None:
        key = self.route.key
        log.debug("delivery: sending to %s (%s)", key, self.route.address)
        pruned_at = 0.0
        try:
            while not stop.is_set():
                try:
                    wait = self.step()
                    if utcnow().timestamp() - pruned_at > 3600:
                        queue.prune(self.db, key, utcnow() - timedelta(hours=self.pacing.retention_h))
                        pruned_at = utcnow().timestamp()
                except Exception as exc:  # noqa: BLE001 - a sender thread must outlive any one surprise
                    if isinstance(exc, RetriableError) or is_retriable(exc):
                        # The database is down or busy: wait; what was sent and not recorded goes again.
                        log.warning("delivery %s: database unavailable (%s); waiting", key, type(exc).__name__)
                    else:
                        log.exception("delivery %s: unexpected failure; trying again", key)
                    wait = self.down.next()
                if wait:
                    stop.wait(wait)
        finally:
            assert self.transport is not None
            self.transport.close()
            with contextlib.suppress(Exception):  # the database may be down; the hold then runs out
                queue.release(self.db, key, self.name)

    def step(self) -> float:
        """Sends what is due; returns how long to wait before the next step (0: go on at once)."""
        key = self.route.key
        if self._gauged_at is None or time.monotonic() - self._gauged_at >= self.pacing.gauge_s:
            self._gauges()  # a count per destination per idle look was most of what the senders cost
        due = queue.due(self.db, key, utcnow(), self.pacing.batch)
        if not due:
            return self.pacing.idle_s
        for message in due:
            # Held per message: a slow member (a long timeout per message) must not let the hold lapse.
            if not queue.claim(self.db, key, self.name, self.pacing.hold_s + self._longest_attempt_s()):
                return self.pacing.idle_s  # another hub sends to it; stand by
            outcome = self._send(message)
            if outcome.verdict == "down":
                queue.record_down(self.db, key, outcome.reason)
                metrics.DELIVERY_FAILURES.labels(key, outcome.kind or "connect").inc()
                metrics.DELIVERY_UP.labels(key).set(0)
                wait = self.down.next()
                log.info("delivery %s: %s; next try in %.1f s", key, outcome.reason, wait)
                return wait
            self.down.reset()
            delay = retry_delay(message.attempts + 1, self.pacing.retry_initial_s, self.pacing.retry_max_s)
            queue.record(self.db, key, message, outcome, delay)
            self._count(message, outcome)
            self._gauged_at = None  # the backlog moved
        return 0.0

    def _longest_attempt_s(self) -> float:
        # MLLP may connect, send, reconnect and send again, each waiting up to timeout_s.
        return 4 * self.route.destination.timeout_s

    def _send(self, message: queue.Due) -> Outcome:
        assert self.transport is not None
        return self.transport.send(message.message_id, message.body)

    def _count(self, message: queue.Due, outcome: Outcome) -> None:
        key = self.route.key
        metrics.DELIVERY_SENT.labels(key).inc()
        metrics.DELIVERY_UP.labels(key).set(1 if outcome.verdict in ("acknowledged", "refused") else 0)
        if outcome.verdict == "acknowledged":
            metrics.DELIVERY_ACKNOWLEDGED.labels(key).inc()
        elif outcome.verdict == "refused":
            metrics.DELIVERY_REFUSED.labels(key).inc()
            log.warning("delivery %s: message %s refused: %s", key, message.message_id, outcome.reason)
        else:
            metrics.DELIVERY_FAILURES.labels(key, outcome.kind or "server").inc()
            log.info("delivery %s: message %s not delivered (%s); it is sent again later",
                     key, message.message_id, outcome.reason)

    def _gauges(self) -> None:
        self._gauged_at = time.monotonic()
        count, oldest = queue.backlog(self.db, self.route.key)
        metrics.DELIVERY_QUEUED.labels(self.route.key).set(count)
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        metrics.DELIVERY_OLDEST_SECONDS.labels(self.route.key).set(max(0.0, age))


def run_senders(context: PartContext, stop: threading.Event, pacing: Pacing | None = None) -> None:
    """The part's worker: a sender per configured destination, until `stop` is set."""
    routes = all_routes(routes_from(context.connector_configs))
    if not routes:
        return
    pacing = pacing or Pacing(retention_h=context.settings.outbox_retention_hours)
    while not stop.is_set():
        try:
            queue.register(context.database, routes)
            break
        except Exception as exc:
            if not (isinstance(exc, RetriableError) or is_retriable(exc)):
                raise
            log.warning("delivery: cannot register destinations yet: %s", type(exc).__name__)
            stop.wait(pacing.down_initial_s)
    log.info("delivery: sending results to %d destination(s): %s", len(routes),
             ", ".join(f"{route.key} ({route.address})" for route in routes[:5]) + (" ..." if len(routes) > 5 else ""))
    threads = [threading.Thread(target=DestinationSender(route, context.database, pacing).run, args=(stop,),
                                name=f"delivery-{route.key}", daemon=True) for route in routes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
