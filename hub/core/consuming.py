"""Runs one consumer: poll a batch, decode, apply in one database transaction, then commit offsets.

Exactly once in effect: an event id already in `processed_event` is skipped, and offsets are
committed only after the database commit, so a crash between the two replays harmless duplicates.
Failures are of two kinds. Retriable (database or broker down or busy): the batch is rolled back,
the partitions are rewound and the consumer waits with bounded backoff. Permanent (undecodable, or
still failing after `consumer_max_retries` attempts on its own): the event goes to the dead-letter
topic with the reason, origin topic, partition and offset in headers, and the partition moves on.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.core import kafka_io, metrics
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.db import Database, RetriableDatabaseError, is_retriable
from hub.core.db.models import ProcessedEvent, core_table
from hub.core.dead_letter import H_FACILITY, DeadLetterInfo
from hub.core.errors import PermanentError, RetriableError
from hub.core.events import utcnow
from hub.core.retry import Backoff
from hub.core.serialization import EventCodec, SerializationError
from hub.core.topics import DEAD_LETTER, EPOCH, spec_for

log = logging.getLogger(__name__)


class _EpochGuard(kafka_io.ConsumerRebalanceListener):
    """Checks every new assignment's positions against the broker (see ConsumerRunner.on_assigned)."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.runner.on_assigned(list(assigned))


class ConsumerRunner:
    def __init__(
        self,
        consumer: Consumer,
        settings: HubSettings,
        database: Database,
        codec: EventCodec,
        kafka_consumer_factory: Callable[[], Any] | None = None,
        dlq_producer_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.consumer = consumer
        self.settings = settings
        self.db = database
        self.codec = codec
        self.group_id = f"{settings.topic_prefix}hub.{consumer.name}"
        self.topics = [spec_for(t).topic(settings) for t in consumer.topics()]
        self._kafka_factory = kafka_consumer_factory or (
            lambda: kafka_io.consumer(settings, self.group_id, self.topics, listener=_EpochGuard(self))
        )
        self._dlq_factory = dlq_producer_factory or (lambda: kafka_io.producer(settings))
        self._kafka: Any = None
        self._dlq: Any = None
        self._admin: Any = None
        # A memory broker that restarted (or rebuilt its topics) has a new epoch: positions and committed
        # offsets from before mean nothing there, so the consumer starts again from the beginning.
        self._epoch: str | None = None
        self._from_start = False
        self._memory_broker: bool | None = None  # asked once per admin client
        self._last_epoch_check = 0.0
        # What this runner committed, per partition, under the epoch beside it: where a rebuilt consumer resumes.
        self._positions: dict[Any, int] = {}
        self._positions_epoch: str | None = None
        self.assigned = False
        self.applied_total = 0
        self.batch_size = min(settings.consumer_batch_size, consumer.max_batch or settings.consumer_batch_size)

    # Main loop ------------------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_batch: Callable[[int], None] | None = None) -> None:
        backoff = Backoff(initial_s=0.5, max_s=15.0)
        name = self.consumer.name
        while not stop.is_set():
            deliveries: list[Delivery] = []
            try:
                if self._kafka is None:
                    self._epoch = self._broker_epoch()
                    self._kafka = self._kafka_factory()
                polled = self._kafka.poll(timeout_ms=500, max_records=self.batch_size)
                assignment = self._kafka.assignment()
                self.assigned = bool(assignment)
                metrics.CONSUMER_ASSIGNED.labels(name).set(len(assignment))
                if self._from_start and assignment:
                    self._kafka.seek_to_beginning(*assignment)  # what was polled comes again from the start
                    self._from_start = False
                    continue
                if time.monotonic() - self._last_epoch_check > 5 and self._check_epoch() is False:
                    continue  # every assigned partition was sought to its beginning: what was polled comes again
                deliveries = [
                    _delivery(m) for tp in sorted(polled, key=lambda t: (t.topic, t.partition)) for m in polled[tp]
                ]
                if deliveries:
                    self.process(deliveries)
                    self._commit(deliveries)
                    backoff.reset()
                    if on_batch:
                        on_batch(len(deliveries))
            except RetriableError as exc:
                cause = "database" if isinstance(exc, RetriableDatabaseError) else "retriable"
                metrics.CONSUMER_RETRIES.labels(name, cause).inc()
                self._rewind(deliveries)
                delay = backoff.next()
                log.warning("consumer %s: %s; retrying in %.1f s", name, exc.args[0], delay)
                stop.wait(delay)
            except kafka_io.KafkaError as exc:
                metrics.CONSUMER_RETRIES.labels(name, "broker").inc()
                delay = backoff.next()
                log.warning("consumer %s: broker error %s; retrying in %.1f s", name, exc, delay)
                self._close_kafka()
                self._drop_admin()
                stop.wait(delay)
        self.close()

    def close(self) -> None:
        self._close_kafka()
        self._drop_admin()
        dlq, self._dlq = self._dlq, None
        kafka_io.close_quietly(dlq, "DLQ producer", timeout=2)

    def _drop_admin(self) -> None:
        admin, self._admin = self._admin, None
        self._memory_broker = None
        kafka_io.close_quietly(admin, "admin client")

    def _close_kafka(self) -> None:
        kafka, self._kafka = self._kafka, None
        self.assigned = False
        kafka_io.close_quietly(kafka, "consumer", autocommit=False)

    # One batch ------------------------------------------------------------------------------------

    def process(self, deliveries: Sequence[Delivery]) -> None:
        """Applies a batch; returns when every delivery is either applied, a duplicate or dead-lettered."""
        decoded: list[Delivery] = []
        dead: list[tuple[Delivery, str, str, BaseException | None]] = []
        for delivery in deliveries:
            if not self.consumer.decode:
                decoded.append(delivery)
                continue
            try:
                decoded.append(_with_event(delivery, self.codec.decode(delivery.value)))
            except SerializationError as exc:
                dead.append((delivery, str(exc), "decode", exc))
        try:
            self._apply_batch(decoded)
        except RetriableError:
            raise
        except Exception:  # noqa: BLE001 - one bad event: find it by applying one at a time
            log.info("consumer %s: batch failed, applying its %d events one by one", self.consumer.name, len(decoded))
            for delivery in decoded:
                failure = self._apply_alone(delivery)
                if failure is not None:
                    dead.append((delivery, *failure))
        if dead:
            self._dead_letter(dead)

    def _apply_batch(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        started = time.perf_counter()
        self.consumer.prepare(deliveries)  # outside the transaction: no database lock held meanwhile
        try:
            with self.db.transaction() as session:
                fresh = self._apply_in(session, deliveries)
        except Exception as exc:
            if is_retriable(exc):
                raise RetriableDatabaseError(f"database unavailable ({type(exc).__name__}: {str(exc)[:200]})") from exc
            raise
        metrics.HANDLER_SECONDS.labels(self.consumer.name).observe(time.perf_counter() - started)
        self._observe_latency(fresh)

    def _observe_latency(self, applied: Sequence[Delivery]) -> None:
        """From the member recording the fact to this view's commit (just done): hub_event_latency_seconds.

        The start is the event's occurred_at: the HIS row's change time (its commit in the member's
        database), the MLLP receipt, the DICOM arrival, a FHIR resource's meta.lastUpdated. Events the
        hub accepted long after that (latency_max_source_age_s: a first load or backfill of history)
        would measure the member's history, not the pipeline, and are left out. Duplicates are never
        observed; a member clock running ahead counts as 0."""
        now = time.time()
        cutoff = self.settings.latency_max_source_age_s
        for delivery in applied:
            event = delivery.event
            if event is None:
                continue  # not decoded (e.g. dead letters): no member time to measure from
            start = event.occurred_at.timestamp()
            if event.recorded_at.timestamp() - start > cutoff:
                continue
            metrics.EVENT_LATENCY.labels(self.consumer.name, delivery.topic, event.source.facility_id).observe(
                max(0.0, now - start)
            )

    def _apply_alone(self, delivery: Delivery) -> tuple[str, str, BaseException] | None:
        last: BaseException | None = None
        for attempt in range(1, self.settings.consumer_max_retries + 1):
            try:
                self._apply_batch([delivery])
                return None
            except RetriableError:
                raise
            except PermanentError as exc:
                return exc.reason, exc.stage, exc
            except Exception as exc:  # noqa: BLE001
                last = exc
                log.debug("consumer %s: attempt %d failed", self.consumer.name, attempt, exc_info=True)
        assert last is not None
        return f"{type(last).__name__}: {last}", "apply", last

    def _apply_in(self, session: Session, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Applies the deliveries not applied before; returns them."""
        ids = [self.consumer.dedup_id(d) for d in deliveries]
        seen = set(
            session.scalars(
                select(ProcessedEvent.event_id).where(
                    ProcessedEvent.consumer == self.consumer.name, ProcessedEvent.event_id.in_(set(ids))
                )
            )
        )
        fresh: list[Delivery] = []
        for delivery, event_id in zip(deliveries, ids, strict=True):
            if event_id in seen:
                metrics.EVENTS_DUPLICATE.labels(self.consumer.name, delivery.topic).inc()
                continue
            seen.add(event_id)  # the same event twice in one batch
            fresh.append(delivery)
        self.consumer.apply_batch(session, fresh)
        processed: list[dict[str, Any]] = []
        now = utcnow()
        for delivery in fresh:
            facility = delivery.event.source.facility_id if delivery.event else delivery.header(H_FACILITY)
            processed.append({
                "consumer": self.consumer.name, "event_id": self.consumer.dedup_id(delivery), "topic": delivery.topic,
                "partition": delivery.partition, "offset": delivery.offset, "facility_id": facility,
                "processed_at": now,
            })
            metrics.EVENTS_CONSUMED.labels(self.consumer.name, delivery.topic, facility or "").inc()
            self.applied_total += 1
        session.flush()
        if processed:  # one executemany, not an ORM object per event
            session.execute(insert(core_table(ProcessedEvent)), processed)
        return fresh

    # Dead letters, offsets, lag -------------------------------------------------------------------

    def _dead_letter(self, dead: list[tuple[Delivery, str, str, BaseException | None]]) -> None:
        if self._dlq is None:
            self._dlq = self._dlq_factory()
        topic = DEAD_LETTER.topic(self.settings)
        futures = []
        for delivery, reason, stage, exc in dead:
            origin_id = delivery.event.event_id if delivery.event else hashlib.sha256(delivery.value or b"").hexdigest()
            info = DeadLetterInfo.failed_in_consumer(
                self.consumer.name, reason, stage, delivery.topic, delivery.partition, delivery.offset, origin_id,
                exception=exc, facility_id=delivery.event.source.facility_id if delivery.event else None,
            )
            if exc is not None:
                log.warning(
                    "consumer %s: dead-lettering %s[%d]@%d (%s): %s\n%s", self.consumer.name, delivery.topic,
                    delivery.partition, delivery.offset, stage, reason, "".join(traceback.format_exception(exc))[-2000:],
                )
            futures.append(self._dlq.send(topic, key=delivery.key, value=delivery.value or b"", headers=info.to_headers()))
            metrics.DEAD_LETTERS.labels(self.consumer.name, stage).inc()
        self._dlq.flush(timeout=30)
        for future in futures:
            if not future.succeeded():
                # The offsets are not committed: the batch comes again once the broker takes dead letters.
                raise kafka_io.KafkaError(f"could not publish a dead letter: {future.exception}")

    def _broker_epoch(self) -> str | None:
        if self._admin is None:
            self._admin = kafka_io.admin(self.settings)
        return kafka_io.topic_id(self.settings, EPOCH.topic(self.settings), self._admin)

    def _check_epoch(self) -> bool | None:
        """True: the broker's epoch is the one this consumer knows. False: it changed, and every assigned
        partition is read again from its beginning. None: the broker cannot say now (busy, timing out, its
        marker topic not yet made again); nothing changes and the next look decides. Taking such a moment
        for a new epoch made a loaded hub read every topic again from the start, again and again: the
        record store then applied nothing new for minutes while the demo went on writing."""
        self._last_epoch_check = time.monotonic()
        try:
            current = self._broker_epoch()
        except kafka_io.KafkaError as exc:
            log.info("consumer %s: cannot read the broker's epoch now (%s); looking again later", self.consumer.name, exc)
            return None
        if current is None:
            return None
        if current == self._epoch:
            return True
        log.warning("consumer %s: the broker restarted or rebuilt its topics; reading again from the start",
                    self.consumer.name)
        self._epoch = current
        # Seek rather than leave and rejoin the group: Tansu can leave a re-joining member without partitions.
        # Partitions a rebalance hands over later are sought by on_assigned.
        assignment = self._kafka.assignment() if self._kafka is not None else set()
        if assignment:
            self._kafka.seek_to_beginning(*assignment)
        else:
            self._from_start = True
        return False

    def on_assigned(self, assigned: Sequence[Any]) -> None:
        """Offsets hold only on the broker that gave them. Positions survive a rejoin, and a commit can
        wait out a restart of the memory broker and land on the new one (seen in the fault suite; that
        broker keeps no commit metadata to tell them apart). So on the memory broker, and wherever the
        epoch moved since this client's positions were taken, a new assignment is read from the
        beginning; duplicates are skipped. The exception is a partition this runner itself committed in
        the same epoch (its consumer rebuilt after a broker error): it goes on from there, not from the
        start of a topic that may hold days of events. On a real cluster committed offsets are trusted."""
        if not assigned or self._kafka is None:
            return
        try:
            current = self._broker_epoch()
            if self._memory_broker is None:
                self._memory_broker = kafka_io.memory_broker(self._admin)
        except kafka_io.KafkaError as exc:
            log.warning("consumer %s: cannot check the broker's epoch (%s); reading again from the start",
                        self.consumer.name, exc)
            self._from_start = True
            return
        if not self._memory_broker and current == self._epoch:
            return
        self._epoch = current
        # Only offsets committed on this very broker: not another epoch's, nor an epoch not known now.
        own = self._positions if current is not None and current == self._positions_epoch else {}
        resumed = [tp for tp in assigned if tp in own]
        for tp in resumed:
            self._kafka.seek(tp, own[tp])
        fresh = [tp for tp in assigned if tp not in own]
        if fresh:
            log.info("consumer %s: %d partitions assigned on %s; reading them from the start", self.consumer.name,
                     len(fresh), "the memory broker" if self._memory_broker else "a new broker epoch")
            self._kafka.seek_to_beginning(*fresh)
        if resumed:
            log.info("consumer %s: %d partitions it committed itself in this broker epoch resume there",
                     self.consumer.name, len(resumed))

    def _commit(self, deliveries: Sequence[Delivery]) -> None:
        if not self._check_epoch():
            return  # offsets from another broker epoch (or one not known now) would skip what it holds
        offsets: dict[Any, Any] = {}
        for d in deliveries:
            tp = kafka_io.TopicPartition(d.topic, d.partition)
            offsets[tp] = kafka_io.OffsetAndMetadata(max(d.offset + 1, offsets.get(tp, (0,))[0]), "", -1)
        try:
            self._kafka.commit(offsets)
            if self._positions_epoch != self._epoch:
                self._positions, self._positions_epoch = {}, self._epoch
            self._positions.update({tp: meta.offset for tp, meta in offsets.items()})
        except kafka_io.KafkaError as exc:
            # A rebalance took the partitions: the new owner re-reads, and duplicates are skipped.
            log.info("consumer %s: offset commit not accepted (%s); duplicates will be skipped", self.consumer.name, exc)

    def _rewind(self, deliveries: Sequence[Delivery]) -> None:
        if self._kafka is None:
            return
        first: dict[tuple[str, int], int] = {}
        for d in deliveries:
            key = (d.topic, d.partition)
            first[key] = min(first.get(key, d.offset), d.offset)
        assigned = self._kafka.assignment()
        for (topic, partition), offset in first.items():
            tp = kafka_io.TopicPartition(topic, partition)
            if tp in assigned:
                self._kafka.seek(tp, offset)


def _delivery(message: Any) -> Delivery:
    return Delivery(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple((k, v or b"") for k, v in (message.headers or [])),
        timestamp_ms=message.timestamp,
    )


def _with_event(delivery: Delivery, event: Any) -> Delivery:
    return Delivery(**{**delivery.__dict__, "event": event})
