"""The referral consumer: keeps each referral loop's state from referrals, Tasks and Encounters.

Encounters travel on their own topic, so an arrival (or a Task) can be seen before its referral:
such steps wait in `referral_pending_step` and are applied when the ServiceRequest arrives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consumers.referrals.loop import (
    Loop,
    Step,
    StepKind,
    advance,
    answers,
    based_on_requests,
    read_request,
    reference_id,
)
from consumers.referrals.models import PendingReferralStep, Referral, ReferralStateChange
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.errors import PermanentError
from hub.core.events import Event, utcnow
from hub.core.fhir_fields import first_datetime

_CANCELS = ("revoked", "entered-in-error")


class ReferralConsumer(Consumer):
    name = "referrals"
    event_types = ("referral", "encounter")

    def __init__(self, settings: HubSettings | None = None, levels: Mapping[str, str] | None = None) -> None:
        super().__init__(settings)
        self.levels = dict(self.settings.facility_levels if levels is None else levels)

    def apply(self, session: Session, delivery: Delivery) -> None:
        event = delivery.event
        if event is None:
            return
        match event.resource_type:
            case "Encounter":
                if event.resource.get("basedOn"):  # most encounters answer no referral: no lookup
                    self._encounter(session, event)
            case "Task":
                self._task(session, event)
            case "ServiceRequest":
                self._request(session, event)
            case other:
                raise PermanentError(
                    f"the referral consumer cannot follow a {other or 'resource'}", "validate"
                )

    def _encounter(self, session: Session, event: Event) -> None:
        resource = event.resource
        at = first_datetime(resource, ("period", "start")) or event.occurred_at
        status, facility = str(resource.get("status", "")), event.source.facility_id
        step = Step("encounter", status, at, resource.get("id"), facility)
        for referral_id in based_on_requests(resource):
            self._step(session, referral_id, step, event.event_id)

    def _task(self, session: Session, event: Event) -> None:
        resource = event.resource
        focus = reference_id(resource.get("focus"), "ServiceRequest")
        if focus is None:
            raise PermanentError("a Task on the referral topic needs focus: ServiceRequest/<id>", "validate")
        at = first_datetime(resource, ("lastModified",), ("authoredOn",)) or event.occurred_at
        step = Step("task", str(resource.get("status", "")), at, resource.get("id"))
        self._step(session, focus, step, event.event_id)

    def _step(self, session: Session, referral_id: str, step: Step, event_id: str) -> None:
        row = session.get(Referral, referral_id)
        if row is not None:
            _advance(session, row, step, event_id)
        elif session.get(PendingReferralStep, (referral_id, event_id)) is None:
            session.add(
                PendingReferralStep(
                    referral_id=referral_id,
                    event_id=event_id,
                    kind=step.kind,
                    status=step.status,
                    at=step.at,
                    ref=step.ref,
                    facility_id=step.facility_id,
                )
            )

    def _request(self, session: Session, event: Event) -> None:
        if not event.resource.get("id"):
            raise PermanentError("a referral ServiceRequest without an id cannot be followed", "validate")
        request = read_request(event.resource, event.source.facility_id, event.occurred_at, self.levels)
        row = session.get(Referral, request.id)
        new = row is None
        if row is None:
            row = Referral(id=request.id, state="requested")
            session.add(row)
            session.add(
                ReferralStateChange(
                    referral_id=row.id, state="requested", at=request.requested_at, event_id=event.event_id
                )
            )
        row.patient_key, row.patient_id = event.patient_key, request.patient_id
        row.requester_facility, row.target_facility = event.source.facility_id, request.target
        row.direction, row.requested_at = request.direction, request.requested_at
        row.reason_code, row.reason_text, row.based_on = (
            request.reason_code,
            request.reason_text,
            request.based_on,
        )
        row.updated_at = utcnow()
        _advance(session, row, Step("request", request.status, event.occurred_at), event.event_id)
        if new:
            self._catch_up(session, row, event.event_id)
        earlier = session.get(Referral, row.based_on) if row.based_on else None
        if earlier is not None and request.status not in _CANCELS and _returns(earlier, row):
            _advance(session, earlier, Step("answer", "", row.requested_at, row.id), event.event_id)

    def _catch_up(self, session: Session, row: Referral, event_id: str) -> None:
        """Applies what was seen before this referral: waiting steps, and referrals answering it."""
        pending = session.scalars(
            select(PendingReferralStep)
            .where(PendingReferralStep.referral_id == row.id)
            .order_by(PendingReferralStep.at, PendingReferralStep.event_id)
        ).all()
        for waiting in pending:
            step = Step(
                cast(StepKind, waiting.kind), waiting.status, waiting.at, waiting.ref, waiting.facility_id
            )
            _advance(session, row, step, waiting.event_id)
        if pending:
            session.execute(delete(PendingReferralStep).where(PendingReferralStep.referral_id == row.id))
        later = session.scalars(
            select(Referral)
            .where(Referral.based_on == row.id, Referral.state != "cancelled")
            .order_by(Referral.requested_at)
        ).all()
        for answer in later:
            if _returns(row, answer):
                _advance(session, row, Step("answer", "", answer.requested_at, answer.id), event_id)


def _returns(earlier: Referral, later: Referral) -> bool:
    return answers(earlier.direction, earlier.target_facility, later.direction, later.requester_facility)


def _loop(row: Referral) -> Loop:
    return Loop(
        row.state,
        row.accepted_at,
        row.arrived_at,
        row.returned_at,
        row.closed_reason,
        row.arrival_encounter_id,
    )


def _advance(session: Session, row: Referral, step: Step, event_id: str) -> None:
    before = _loop(row)
    after = advance(before, step, row.target_facility, row.requester_facility)
    if after == before:
        return  # also what makes a repeated event change nothing
    row.state, row.accepted_at, row.arrived_at = after.state, after.accepted_at, after.arrived_at
    row.returned_at, row.closed_reason, row.arrival_encounter_id = (
        after.returned_at,
        after.closed_reason,
        after.arrival_encounter_id,
    )
    row.updated_at = utcnow()
    if after.state != before.state:
        session.add(ReferralStateChange(referral_id=row.id, state=after.state, at=step.at, event_id=event_id))
