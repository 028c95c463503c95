"""The sink between a connector and its outbox: validate, encode, dead-letter, store, in one step.

Everything a connector produces passes here, so every kind of connector gets the same checks:
FHIR validation (R4B models), the size limit, the Avro encoding, and a dead letter with the
reason for whatever fails. The outbox write and the checkpoint move are one transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from hub.core import metrics
from hub.core.blobs import FileBlobStore
from hub.core.config import HubSettings
from hub.core.dead_letter import DeadLetterInfo
from hub.core.events import Event, PollResult, Rejected
from hub.core.fhir import FhirValidationError, validate_resource
from hub.core.identifiers import ForeignIdentifierError, check_speaks_for
from hub.core.limits import LimitError, check_event
from hub.core.outbox import Outbox, OutboxRecord, OutboxRelay
from hub.core.serialization import EventCodec, SerializationError
from hub.core.topics import DEAD_LETTER, spec_for

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Outcome:
    """What happened to one input: accepted (new or duplicate) or rejected with a reason."""

    event_id: str | None
    accepted: bool
    duplicate: bool = False
    reason: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class Prepared:
    """What `Sink.prepare` made of a poll: outbox records (events and dead letters) and outcomes."""

    records: list[OutboxRecord]
    outcomes: list[Outcome]
    kinds: dict[str, tuple[str, str]]  # event id -> (facility, event type), for the metrics


@dataclass
class AcceptReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(1 for o in self.outcomes if o.accepted and not o.duplicate)

    @property
    def duplicates(self) -> int:
        return sum(1 for o in self.outcomes if o.duplicate)

    @property
    def rejected(self) -> int:
        return sum(1 for o in self.outcomes if not o.accepted)


class Sink:
    def __init__(
        self,
        connector: str,
        facility_id: str,
        outbox: Outbox,
        codec: EventCodec,
        settings: HubSettings,
        relay: OutboxRelay | None = None,
        facilities: set[str] | None = None,
    ) -> None:
        self.connector = connector
        self.facility_id = facility_id
        self.facilities = facilities if facilities is not None else {facility_id}
        self.outbox = outbox
        self.codec = codec
        self.settings = settings
        self.relay = relay

    def checkpoints(self) -> dict[str, str]:
        return self.outbox.checkpoints()

    def accept(self, result: PollResult) -> AcceptReport:
        return self.store(self.prepare(result), result.checkpoints)

    def prepare(self, result: PollResult) -> Prepared:
        """Validates and encodes (dead letters for what fails); touches no outbox, so a backfill can
        run it in worker processes and `store` the results in order."""
        records: list[OutboxRecord] = []
        outcomes: list[Outcome] = []
        kinds: dict[str, tuple[str, str]] = {}
        for event in result.events:
            kinds[event.event_id] = (event.source.facility_id, event.event_type)
            record, rejected = self._encode(event)
            if record is not None:
                records.append(record)
                outcomes.append(Outcome(event.event_id, accepted=True))
            else:
                assert rejected is not None
                records.append(self._dead_letter(rejected))
                outcomes.append(Outcome(event.event_id, accepted=False, reason=rejected.reason, stage=rejected.stage))
        for rejected in result.rejected:
            records.append(self._dead_letter(rejected))
            outcomes.append(Outcome(None, accepted=False, reason=rejected.reason, stage=rejected.stage))
        return Prepared(records, outcomes, kinds)

    def store(self, prepared: Prepared, checkpoints: dict[str, str]) -> AcceptReport:
        """Writes prepared records and moves the checkpoints, in one outbox transaction."""
        records, outcomes = prepared.records, prepared.outcomes
        if not records and not checkpoints:
            return AcceptReport(outcomes)
        new_ids = set(self.outbox.write(records, checkpoints))
        final: list[Outcome] = []
        for outcome in outcomes:
            if outcome.accepted and outcome.event_id not in new_ids:
                outcome = Outcome(outcome.event_id, accepted=True, duplicate=True)
            final.append(outcome)
        self._count(prepared.kinds, final)
        if self.relay is not None and records:
            self.relay.wake()
        return AcceptReport(final)

    def _encode(self, event: Event) -> tuple[OutboxRecord | None, Rejected | None]:
        try:
            validate_resource(event.resource)
            for related in event.related:
                validate_resource(related)
            topic = spec_for(event.event_type).topic(self.settings)
            if event.source.facility_id not in self.facilities:
                raise SerializationError(
                    f"event names facility {event.source.facility_id!r} but connector {self.connector} "
                    f"serves only {', '.join(sorted(self.facilities))}"
                )
            for resource in (event.resource, *event.related):
                # Whatever door it came through, a member's event must not link into another's records.
                check_speaks_for(resource, event.source.facility_id, str(resource.get("resourceType")))
            check_event(event)
            value = self.codec.encode(event)
        except FhirValidationError as exc:
            reason, stage = f"invalid FHIR {exc.resource_type}: {exc}", "validate"
        except (LimitError, ForeignIdentifierError) as exc:
            reason, stage = str(exc), "validate"
        except (SerializationError, KeyError) as exc:
            reason, stage = str(exc), "encode"
        else:
            if len(value) <= self.settings.max_event_bytes:
                headers = (("hub.event_type", event.event_type.encode()),
                           ("hub.facility", event.source.facility_id.encode()))
                return OutboxRecord(event.event_id, topic, event.patient_key.encode(), value, headers), None
            reason, stage = (f"event is {len(value)} bytes, over the {self.settings.max_event_bytes}-byte limit; "
                             "large binaries belong in the blob store with a reference in the event"), "size"
        # The input as the dead letter carries it, built only for a rejected event.
        payload = json.dumps({"resource": event.resource, "related": list(event.related)}, ensure_ascii=False)
        return None, Rejected(reason, stage, payload, event.source.position, event.patient_key, event.event_id)

    def _dead_letter(self, rejected: Rejected) -> OutboxRecord:
        fingerprint = rejected.fingerprint or hashlib.sha256(
            f"{rejected.position}|{rejected.payload}".encode("utf-8", "surrogatepass")
        ).hexdigest()
        info = DeadLetterInfo.rejected_by_connector(
            self.connector, self.facility_id, rejected.reason, rejected.stage, rejected.position, fingerprint
        )
        value = rejected.payload.encode("utf-8", "backslashreplace")
        limit = self.settings.max_event_bytes // 2
        if len(value) > limit:
            # Nothing is lost: the whole input goes to the blob store (synced, hash-checked), the dead
            # letter on the topic carries its head and the reference.
            ref = FileBlobStore(self.settings.data_dir / "blobs").put(value, "application/octet-stream")
            info = dataclasses.replace(info, quarantine=ref.uri)
            value = value[:4096]
        key = (rejected.patient_key or rejected.position).encode("utf-8", "backslashreplace")
        assert info.event_id is not None
        return OutboxRecord(info.event_id, DEAD_LETTER.topic(self.settings), key, value, tuple(info.to_headers()))

    def _count(self, kinds: dict[str, tuple[str, str]], outcomes: list[Outcome]) -> None:
        accepted: Counter[tuple[str, str]] = Counter()
        rejected: Counter[str] = Counter()
        for outcome in outcomes:
            if outcome.accepted and not outcome.duplicate and outcome.event_id in kinds:
                accepted[kinds[outcome.event_id]] += 1
            elif not outcome.accepted:
                rejected[outcome.stage or "?"] += 1
                log.warning("%s: rejected input (%s): %s", self.connector, outcome.stage, outcome.reason)
        # One increment per label set and batch, not per event.
        for (facility, event_type), n in accepted.items():
            metrics.EVENTS_IN.labels(self.connector, facility, event_type).inc(n)
        for stage, n in rejected.items():
            metrics.EVENTS_REJECTED.labels(self.connector, self.facility_id, stage).inc(n)
        if outcomes:
            metrics.CONNECTOR_LAST_EVENT.labels(self.connector).set(time.time())

