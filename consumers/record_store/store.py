"""Writes the shared record: upserts resources, links source patients to community patients.

Linking is by exact identifier for now (a valid resident ID, an insurance number, or the same
local record number at the same member); probabilistic matching belongs to the patient index.
Each community ("golden") Patient is rebuilt from its source records after every change, with
`Patient.link` both ways as the contract describes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from consumers.record_store.indexing import clinical_date, codings, main_code
from consumers.record_store.models import (
    PatientIdentifier,
    PatientLink,
    ResourceCode,
    ResourceIdentifier,
    StoredResource,
)
from hub.events import Event, utcnow
from hub.identifiers import INSURANCE_ID, RESIDENT_ID, normalise_resident_id, resident_id_valid

GOLDEN_TAG = {"system": "urn:hub:tag", "code": "golden", "display": "Community patient record"}


def community_patient_id(patient_key: str) -> str:
    """Deterministic, so replaying the same events rebuilds the same ids."""
    return "cp-" + hashlib.sha256(patient_key.encode()).hexdigest()[:20]


def linking_identifiers(patient: dict[str, Any]) -> list[tuple[str, str]]:
    """Identifiers strong enough to link two records of the same person without review."""
    found: list[tuple[str, str]] = []
    for identifier in patient.get("identifier", []) or []:
        system, value = identifier.get("system"), identifier.get("value")
        if not system or not value:
            continue
        if system == RESIDENT_ID:
            if resident_id_valid(value):
                found.append((system, normalise_resident_id(value)))
        elif system == INSURANCE_ID or system.endswith(":mrn"):
            found.append((system, str(value).strip()))
    return found


def _dumps(resource: dict[str, Any]) -> str:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


class RecordWriter:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._absent: set[tuple[str, str]] = set()  # keys a prefetch found missing
        # Objects added in this batch: pending objects are not in the identity map until a flush,
        # and the batch runs without autoflush, so the writer remembers them itself.
        self._pending: dict[tuple[type, Any], Any] = {}

    def prefetch(self, events: list[Event]) -> None:
        """Loads every stored row the batch will touch in one query (the identity map keeps them)."""
        keys = {
            (r["resourceType"], r["id"])
            for e in events
            for r in (e.resource, *e.related)
            if isinstance(r.get("id"), str)
        }
        keys = {k for k in keys if self.session.identity_map.get(self.session.identity_key(StoredResource, k)) is None}
        for chunk in _chunks(sorted(keys), 300):
            found = self.session.scalars(
                select(StoredResource).where(tuple_(StoredResource.resource_type, StoredResource.id).in_(chunk))
            ).all()
            self._absent |= set(chunk) - {(r.resource_type, r.id) for r in found}
        patient_keys = sorted({e.patient_key for e in events if e.resource.get("resourceType") == "Patient"})
        for chunk in _chunks(patient_keys, 300):
            self.session.scalars(select(PatientLink).where(PatientLink.patient_key.in_(chunk))).all()

    def apply(self, event: Event) -> None:
        resource = event.resource
        if resource.get("resourceType") == "Patient":
            self.upsert_patient(event)
        else:
            self.upsert(resource, event, event.patient_key)
        for related in event.related:
            self.upsert(related, event, event.patient_key)

    # Any resource ---------------------------------------------------------------------------------

    def upsert(self, resource: dict[str, Any], event: Event, patient_key: str | None, golden: bool = False) -> bool:
        """Stores the resource unless a newer version (by source time) is already there."""
        rtype, rid = resource["resourceType"], resource.get("id")
        if not rid:
            raise ValueError(f"{rtype} without an id cannot be stored")
        row = self._stored(rtype, rid)
        if row is not None and row.occurred_at > event.occurred_at and not golden:
            return False  # an older version arrived late: keep the newer one
        existed = row is not None
        now = utcnow()
        version = (row.version_id + 1) if row is not None else 1
        stored = dict(resource)
        stored["meta"] = {**(resource.get("meta") or {}), "versionId": str(version), "lastUpdated": now.isoformat()}
        if row is None:
            row = StoredResource(resource_type=rtype, id=rid)
            self._add(row, (rtype, rid))
            self._absent.discard((rtype, rid))
        row.version_id = version
        row.last_updated = now
        row.occurred_at = event.occurred_at
        row.facility_id = event.source.facility_id if not golden else None
        row.patient_key = patient_key
        row.date = clinical_date(resource)
        row.code = main_code(resource)
        row.status = str(resource.get("status")) if resource.get("status") else None
        row.golden = golden
        row.source_event_id = event.event_id
        row.content = _dumps(stored)
        if existed:  # a new version: its codes and identifiers replace the old ones
            self.session.flush()
            self.session.execute(delete(ResourceCode).where(ResourceCode.resource_type == rtype, ResourceCode.id == rid))
            self.session.execute(
                delete(ResourceIdentifier).where(ResourceIdentifier.resource_type == rtype, ResourceIdentifier.id == rid)
            )
        for system, code in codings(resource):
            self.session.add(ResourceCode(resource_type=rtype, id=rid, system=system[:200], code=code[:100]))
        seen: set[tuple[str, str]] = set()
        for identifier in resource.get("identifier") or []:
            pair = (str(identifier.get("system") or "")[:200], str(identifier.get("value") or "")[:100])
            if pair[1] and pair not in seen:
                seen.add(pair)
                self.session.add(ResourceIdentifier(resource_type=rtype, id=rid, system=pair[0], value=pair[1]))
        return True

    def _get(self, model: type, key: Any) -> Any:
        pending = self._pending.get((model, key))
        return pending if pending is not None else self.session.get(model, key)

    def _add(self, obj: Any, key: Any) -> None:
        self.session.add(obj)
        self._pending[(type(obj), key)] = obj

    def _stored(self, rtype: str, rid: str) -> StoredResource | None:
        if (pending := self._pending.get((StoredResource, (rtype, rid)))) is not None:
            return pending
        key = self.session.identity_key(StoredResource, (rtype, rid))
        cached = self.session.identity_map.get(key)
        if cached is not None:
            return cached
        if (rtype, rid) in self._absent:
            return None
        return self.session.get(StoredResource, (rtype, rid))

    # Patients -------------------------------------------------------------------------------------

    def upsert_patient(self, event: Event) -> None:
        patient = dict(event.resource)
        key = event.patient_key
        link = self._get(PatientLink, key)
        identifiers = linking_identifiers(patient)
        if link is not None:
            cp_id, rule = link.community_patient_id, link.linked_by
        else:
            cp_id, rule = self._find_by_identifier(identifiers) or (community_patient_id(key), "new")
            link = PatientLink(
                patient_key=key, source_patient_id=patient["id"], community_patient_id=cp_id, linked_by=rule
            )
            self._add(link, key)
        link.source_patient_id = patient["id"]
        for system, value in identifiers:
            if self._get(PatientIdentifier, (system, value)) is None:
                self._add(PatientIdentifier(system=system, value=value, community_patient_id=cp_id), (system, value))
        patient["link"] = [{"other": {"reference": f"Patient/{cp_id}"}, "type": "refer"}]
        if self.upsert(patient, event, key):
            self.rebuild_golden(cp_id, event)

    def _find_by_identifier(self, identifiers: list[tuple[str, str]]) -> tuple[str, str] | None:
        for system, value in identifiers:  # resident ID first: it is the strongest
            row = self._get(PatientIdentifier, (system, value))
            if row is not None:
                return row.community_patient_id, "resident-id" if system == RESIDENT_ID else "identifier"
        return None

    def rebuild_golden(self, cp_id: str, event: Event) -> None:
        self.session.flush()
        sources = self.session.scalars(
            select(StoredResource)
            .join(PatientLink, PatientLink.source_patient_id == StoredResource.id)
            .where(
                StoredResource.resource_type == "Patient",
                PatientLink.community_patient_id == cp_id,
            )
            .order_by(StoredResource.occurred_at)
        ).all()
        records = [json.loads(row.content) for row in sources]
        if not records:
            return
        latest = records[-1]
        golden: dict[str, Any] = {
            "resourceType": "Patient",
            "id": cp_id,
            "meta": {"tag": [GOLDEN_TAG]},
            "identifier": _union(r.get("identifier") for r in records),
            "active": True,
            "name": latest.get("name") or _first(r.get("name") for r in records),
            "telecom": _union(r.get("telecom") for r in reversed(records)),
            "gender": latest.get("gender") or _first(r.get("gender") for r in records),
            "birthDate": latest.get("birthDate") or _first(r.get("birthDate") for r in records),
            "address": latest.get("address") or _first(r.get("address") for r in records),
            "link": [{"other": {"reference": f"Patient/{r['id']}"}, "type": "seealso"} for r in records],
        }
        golden = {k: v for k, v in golden.items() if v not in (None, [], "")}
        self.upsert(golden, event, None, golden=True)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _union(lists: Any) -> list[Any]:
    seen: set[str] = set()
    merged: list[Any] = []
    for items in lists:
        for item in items or []:
            fingerprint = json.dumps(item, sort_keys=True, ensure_ascii=False)
            if fingerprint not in seen:
                seen.add(fingerprint)
                merged.append(item)
    return merged


def _first(values: Any) -> Any:
    return next((v for v in values if v), None)
