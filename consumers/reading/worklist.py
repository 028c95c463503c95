"""The worklist's rules, used by the consumer, the routes and the sweep: how orders and arrivals make
items, when an item is ready and due, and claims with a lease (claim, renew, release, reassign).

Claims are conditional UPDATEs (`... WHERE holder IS NULL OR lease_until < now`), so two readers
claiming one item at once cannot both win, on SQLite and PostgreSQL alike, whichever process they use.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from consumers.reading.classify import Arrival, Order
from consumers.reading.config import ReadingConfig
from consumers.reading.models import ReadingArrival, ReadingItem, ReadingItemLog, ReadingKey, ReadingOrder
from hub.core.errors import PermanentError

OPEN_STATES = ("waiting", "ready", "claimed")
CANCELS = ("revoked", "entered-in-error", "cancelled")


class ItemConflict(PermanentError):
    """A claim or report refused because of the item's state; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, holder: str | None = None,
                 lease_until: datetime | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.holder = holder
        self.lease_until = lease_until


@dataclass(frozen=True)
class Actor:
    name: str
    lead: bool = False


def item_id_for(ref: str) -> str:
    """The item's id from its order's (or, unordered, its study's) id: stable and a valid FHIR id."""
    candidate = f"rd-{ref}"
    if len(candidate) <= 64:
        return candidate
    return "rd-" + hashlib.sha256(ref.encode()).hexdigest()[:40]


def changed(result: Any) -> int:
    """Rows an UPDATE changed (what makes a conditional update a claim that won)."""
    return int(getattr(result, "rowcount", 0) or 0)


def log(session: Session, item_id: str, action: str, actor: str | None, detail: str | None, at: datetime) -> None:
    session.add(ReadingItemLog(item_id=item_id, action=action, actor=actor, detail=(detail or None) and detail[:500],
                               at=at))


def _keys(session: Session, kind: str, ref: str, keys: frozenset[str]) -> None:
    known = set(session.scalars(select(ReadingKey.key).where(ReadingKey.kind == kind, ReadingKey.ref == ref)))
    for key in sorted(keys - known):
        session.add(ReadingKey(key=key, kind=kind, ref=ref))


def _matches(session: Session, kind: str, keys: frozenset[str]) -> list[str]:
    if not keys:
        return []
    return sorted(set(session.scalars(select(ReadingKey.ref).where(ReadingKey.kind == kind,
                                                                  ReadingKey.key.in_(sorted(keys))))))


def make_ready(item: ReadingItem, config: ReadingConfig, at: datetime) -> None:
    """Starts the clock: due by the centre's target for the item's priority."""
    target = config.target(item.centre, item.priority)
    item.state, item.ready_at = "ready", at
    item.due_at = target.due(at)
    item.at_risk_at = target.after_share(at, config.at_risk)
    item.duty_at = item.due_at + (item.due_at - at) * config.duty_after
    item.updated_at = at


def _attach(session: Session, item: ReadingItem, arrival: ReadingArrival, config: ReadingConfig, at: datetime,
            actor: str | None = None) -> None:
    arrival.item_id = item.id
    if item.study_id is None:
        item.study_id, item.study_uid = arrival.id, arrival.study_uid
        if item.modality in ("", "OT") or item.centre == "ecg":
            item.modality = arrival.modality if arrival.modality != "OT" else item.modality
    if arrival.waveform and not item.waveform:
        item.waveform = arrival.waveform
    if item.state == "waiting":
        make_ready(item, config, at)
        log(session, item.id, "ready", actor, f"study {arrival.id} arrived", at)


def apply_order(session: Session, order: Order, facility: str, patient_key: str, config: ReadingConfig,
                at: datetime) -> ReadingItem | None:
    """An order seen (new or changed): its item, ready at once if its study already arrived."""
    row = session.get(ReadingOrder, order.id)
    if row is None:
        row = ReadingOrder(id=order.id, facility_id=facility, patient_key=patient_key, status=order.status,
                           resource=json.dumps(order.resource, ensure_ascii=False), seen_at=at)
        session.add(row)
    else:
        row.status, row.resource = order.status, json.dumps(order.resource, ensure_ascii=False)
    _keys(session, "order", order.id, order.keys)
    item = session.get(ReadingItem, row.item_id) if row.item_id else None
    waiting = [session.get(ReadingArrival, ref) for ref in _matches(session, "arrival", order.keys)]
    arrivals = [a for a in waiting if a is not None]
    if item is None:  # an unordered arrival a lead already accepted becomes this order's item
        item = next((session.get(ReadingItem, a.item_id) for a in arrivals if a.item_id), None)
        if item is not None and item.order_id not in (None, order.id):
            item = None
    if order.status in CANCELS:
        if item is not None and item.state in OPEN_STATES:
            item.state, item.holder, item.lease_until, item.updated_at = "cancelled", None, None, at
            log(session, item.id, "cancelled", None, f"order {order.id} is {order.status}", at)
        row.item_id = item.id if item is not None else None
        return item
    if item is None:
        item = ReadingItem(id=item_id_for(order.id), centre=order.centre, modality=order.modality, state="waiting",
                           stage="first", priority=order.priority, facility_id=facility, patient_key=patient_key,
                           created_at=at, updated_at=at, escalation=0, second_reading=False)
        session.add(item)
        log(session, item.id, "ordered", None, f"order {order.id}", at)
    item.order_id, item.patient_id = order.id, order.patient_id or item.patient_id
    item.order_text, item.reason = order.text[:200] or None, order.reason[:500] or None
    if item.state in ("waiting", "ready", "claimed") and item.priority != order.priority:
        item.priority = order.priority
        if item.ready_at is not None:
            make_ready_keep_state(item, config)
    row.item_id = item.id
    for arrival in arrivals:
        if arrival.item_id in (None, item.id):
            _attach(session, item, arrival, config, at)
    return item


def make_ready_keep_state(item: ReadingItem, config: ReadingConfig) -> None:
    """A changed priority moves the due time, from the same start."""
    state = item.state
    assert item.ready_at is not None
    make_ready(item, config, item.ready_at)
    item.state = state


def apply_arrival(session: Session, arrival: Arrival, facility: str, patient_key: str, config: ReadingConfig,
                  at: datetime) -> ReadingArrival:
    """A study arrived: it joins its order's item, or waits as an unordered arrival."""
    row = session.get(ReadingArrival, arrival.id)
    if row is None:
        row = ReadingArrival(id=arrival.id, facility_id=facility, patient_key=patient_key, arrived_at=at)
        session.add(row)
    row.patient_id, row.centre, row.modality = arrival.patient_id, arrival.centre, arrival.modality
    row.priority, row.study_uid = arrival.priority, arrival.study_uid
    row.description, row.request_id = arrival.description[:500] or None, arrival.request_id
    row.waveform = arrival.waveform or row.waveform
    row.resource = json.dumps(arrival.resource, ensure_ascii=False)
    _keys(session, "arrival", arrival.id, arrival.keys)
    session.flush()
    if row.item_id is None:
        for order_id in _matches(session, "order", arrival.keys):
            order = session.get(ReadingOrder, order_id)
            item = session.get(ReadingItem, order.item_id) if order is not None and order.item_id else None
            if item is not None and item.state != "cancelled":
                _attach(session, item, row, config, at)
                break
    elif (item := session.get(ReadingItem, row.item_id)) is not None and arrival.waveform and not item.waveform:
        item.waveform = arrival.waveform
    return row


def accept_unordered(session: Session, arrival_id: str, actor: Actor, config: ReadingConfig,
                     at: datetime, priority: str | None = None) -> ReadingItem:
    """A lead makes an unordered arrival an item of its own (its clock starts now)."""
    row = session.get(ReadingArrival, arrival_id)
    if row is None:
        raise ItemConflict(404, f"no arrived study {arrival_id}")
    if row.item_id is not None:
        raise ItemConflict(409, f"study {arrival_id} is already item {row.item_id}")
    item = ReadingItem(id=item_id_for(row.id), centre=row.centre, modality=row.modality, state="waiting",
                       stage="first", priority=priority or row.priority, facility_id=row.facility_id,
                       patient_key=row.patient_key, patient_id=row.patient_id, order_id=None,
                       order_text=(row.description or None), created_at=at, updated_at=at, escalation=0,
                       second_reading=False)
    session.add(item)
    row.accepted_by = actor.name
    log(session, item.id, "accepted", actor.name, f"unordered study {row.id} accepted by a lead", at)
    _attach(session, item, row, config, at, actor.name)
    return item


# Claims ---------------------------------------------------------------------------------------------

def _free(now: datetime) -> Any:
    return or_(ReadingItem.holder.is_(None), ReadingItem.lease_until < now)


def _refusal(item: ReadingItem | None, item_id: str, actor: Actor, now: datetime) -> ItemConflict:
    if item is None:
        return ItemConflict(404, f"no reading item {item_id}")
    if item.state == "waiting":
        return ItemConflict(409, f"item {item_id} is not ready to read: its images or waveform have not arrived")
    if item.state in ("done", "cancelled"):
        return ItemConflict(409, f"item {item_id} is {item.state}; there is nothing left to read")
    if item.stage == "second" and item.first_reader == actor.name:
        return ItemConflict(409, f"item {item_id} waits for a second reading by another reader than "
                                 f"{actor.name}, who signed the first")
    if item.holder and item.holder != actor.name and item.lease_until and item.lease_until >= now:
        return ItemConflict(409, f"item {item_id} is held by {item.holder} until "
                                 f"{item.lease_until.isoformat(timespec='seconds')}", item.holder, item.lease_until)
    return ItemConflict(409, f"item {item_id} cannot be claimed now; reload the worklist")


def claim(session: Session, item_id: str, actor: Actor, config: ReadingConfig, now: datetime) -> ReadingItem:
    """Takes the item for `lease_s`; a second claimer gets an ItemConflict naming the holder."""
    until = now + timedelta(seconds=config.lease_s)
    conditions = [ReadingItem.id == item_id, ReadingItem.state.in_(("ready", "claimed")),
                  or_(_free(now), ReadingItem.holder == actor.name),
                  or_(ReadingItem.stage == "first", ReadingItem.first_reader.is_(None),
                      ReadingItem.first_reader != actor.name)]
    done = changed(session.execute(
        update(ReadingItem).where(and_(*conditions))
        .values(state="claimed", holder=actor.name, claimed_at=now, lease_until=until, updated_at=now)
        .execution_options(synchronize_session=False)
    ))
    item = session.get(ReadingItem, item_id, populate_existing=True)
    if done != 1 or item is None:
        raise _refusal(item, item_id, actor, now)
    log(session, item_id, "claimed", actor.name, None, now)
    return item


def renew(session: Session, item_id: str, actor: Actor, config: ReadingConfig, now: datetime) -> ReadingItem:
    """The open page renews its claim; a lapsed claim nobody else took is taken again."""
    until = now + timedelta(seconds=config.lease_s)
    done = changed(session.execute(
        update(ReadingItem)
        .where(ReadingItem.id == item_id, ReadingItem.state.in_(("ready", "claimed")),
               or_(ReadingItem.holder == actor.name, _free(now)),
               or_(ReadingItem.stage == "first", ReadingItem.first_reader.is_(None),
                   ReadingItem.first_reader != actor.name))
        .values(state="claimed", holder=actor.name, lease_until=until, updated_at=now)
        .execution_options(synchronize_session=False)
    ))
    item = session.get(ReadingItem, item_id, populate_existing=True)
    if done != 1 or item is None:
        raise _refusal(item, item_id, actor, now)
    return item


def hold(session: Session, item_id: str, actor: Actor, config: ReadingConfig, now: datetime) -> ReadingItem:
    """The item, held by the actor (renewing the lease): what writing a report on it needs."""
    return renew(session, item_id, actor, config, now)


def release(session: Session, item_id: str, actor: Actor, now: datetime) -> ReadingItem:
    item = session.get(ReadingItem, item_id)
    if item is None:
        raise ItemConflict(404, f"no reading item {item_id}")
    if (item.state != "claimed" or item.holder != actor.name) and not actor.lead:
        raise _refusal(item, item_id, actor, now) if item.holder else ItemConflict(
            409, f"item {item_id} is not held by {actor.name}")
    if item.state == "claimed":
        log(session, item_id, "released", actor.name, f"held by {item.holder}", now)
        item.state, item.holder, item.lease_until, item.updated_at = "ready", None, None, now
    return item


def reassign(session: Session, item_id: str, to: str, actor: Actor, config: ReadingConfig,
             now: datetime) -> ReadingItem:
    """A lead gives the item to a reader, whoever held it."""
    item = session.get(ReadingItem, item_id)
    if item is None:
        raise ItemConflict(404, f"no reading item {item_id}")
    if item.state not in ("ready", "claimed"):
        raise _refusal(item, item_id, Actor(to), now)
    if item.stage == "second" and item.first_reader == to:
        raise ItemConflict(409, f"{to} signed the first reading of item {item_id}; the second must be someone else")
    log(session, item_id, "reassigned", actor.name, f"from {item.holder or 'nobody'} to {to}", now)
    item.state, item.holder, item.claimed_at = "claimed", to, now
    item.lease_until, item.updated_at = now + timedelta(seconds=config.lease_s), now
    return item


def lapse(session: Session, now: datetime) -> list[str]:
    """Puts back every item whose lease ran out (the sweep does this; claims also treat them as free)."""
    lapsed = list(session.execute(
        select(ReadingItem.id, ReadingItem.holder)
        .where(ReadingItem.state == "claimed", ReadingItem.lease_until < now)).all())
    for item_id, holder in lapsed:
        done = changed(session.execute(
            update(ReadingItem)
            .where(ReadingItem.id == item_id, ReadingItem.state == "claimed", ReadingItem.lease_until < now)
            .values(state="ready", holder=None, lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False)))
        if done:
            log(session, item_id, "lapsed", holder, "the claim's lease ran out", now)
    return [item_id for item_id, _ in lapsed]
