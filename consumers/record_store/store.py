"""Writes the shared record: upserts resources, links member records to community patients.

A new member record links deterministically when it shares a valid resident ID, an insurance
number or a local record number with a known record; otherwise the patient index scores it
(matching/): a clear match links, a possible match opens a review task, anything else starts a
new community patient. Each community ("golden") Patient is rebuilt from its member records
after every change, with `Patient.link` both ways as the contract describes.
"""

from __future__ import annotations

import hashlib
import json
import operator
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from consumers.record_store import reviews
from consumers.record_store.matching.index import CandidateIndex
from consumers.record_store.matching.rules import AnyRules, load_rules
from consumers.record_store.models import (
    LinkHistory,
    PatientIdentifier,
    PatientLink,
    ResourceCode,
    ResourceIdentifier,
    ResourceVersion,
    SearchValue,
    StoredResource,
)
from consumers.record_store.search.reindex import rows_of
from hub.core.db.models import core_table
from hub.core.errors import PermanentError
from hub.core.events import Event, utcnow
from hub.core.fhir_fields import clinical_date, codings, from_image_archive, main_code, patient_reference
from hub.core.identifiers import (
    FHIR_ID_MAX,
    INSURANCE_ID,
    RESIDENT_ID,
    normalise_resident_id,
    resident_id_valid,
    system_facility,
)
from hub.core.limits import MAIN_CODE_MAX, LimitError, check_resource

GOLDEN_TAG = {"system": "urn:hub:tag", "code": "golden", "display": "Community patient record"}
# Codes and identifiers are never loaded as objects, so bulk deletes need not scan the session.
_NO_SYNC = {"synchronize_session": False}
# What a fhir_search_index row says, apart from whose it is: rows equal in these are the same value.
_VALUE_COLUMNS = ("param", "system", "value", "exact", "low", "high")
_value_of = operator.itemgetter(*_VALUE_COLUMNS)  # an index row's value as a tuple
MATCHER = "matcher"  # the actor of automatic link decisions in the history
# Link rules decided by the matcher, and so re-matched when the rules change.
AUTOMATIC_RULES = ("score", "new")


def community_patient_id(patient_key: str) -> str:
    """Deterministic, so replaying the same events rebuilds the same ids."""
    return "cp-" + hashlib.sha256(patient_key.encode()).hexdigest()[:20]


def linking_identifiers(patient: dict[str, Any], facility_id: str | None = None) -> list[tuple[str, str]]:
    """Identifiers strong enough to link two records of the same person without review.

    A member-local record number links only when it is the sending member's own (`facility_id`):
    the doors refuse other members' systems, and the store does not trust them either. Without
    `facility_id` (a $match lookup, which stores nothing) every member's record number counts."""
    found: list[tuple[str, str]] = []
    for identifier in patient.get("identifier", []) or []:
        system, value = identifier.get("system"), identifier.get("value")
        if not system or not value:
            continue
        owner = system_facility(system)
        own_record_number = system.endswith(":mrn") and owner is not None and facility_id in (None, owner)
        if system == RESIDENT_ID:
            if resident_id_valid(value):
                found.append((system, normalise_resident_id(value)))
        elif system == INSURANCE_ID or own_record_number:
            found.append((system, str(value).strip()))
    return found


def _dumps(resource: dict[str, Any]) -> str:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


class ResourceWriter(ABC):
    """Resources and member records of one batch. Changing links between communities (merges, moves)
    is links.py's, which builds on this writer; `RecordWriter` (writer.py) joins the two."""

    def __init__(self, session: Session, rules: AnyRules | None = None) -> None:
        self.session = session
        self.rules = rules or load_rules()
        self.index = CandidateIndex(session, self.rules)
        self._absent_rows: set[tuple[type, Any]] = set()  # (model, key) a prefetch found missing
        # The session's identity map holds rows weakly: without this list a prefetched row that the
        # batch has not touched yet is dropped at once, and the batch loads it again one query at a time.
        self._prefetched: list[Any] = []
        # Objects added in this batch: pending objects are not in the identity map until a flush,
        # and the batch runs without autoflush, so the writer remembers them itself.
        self._pending: dict[tuple[type, Any], Any] = {}
        # Community patients to rebuild once, at the end of the batch: id -> (time, replaced by).
        self._dirty: dict[str, tuple[datetime | None, str | None]] = {}
        self._features: dict[str, Any] = {}  # by event id
        # Search rows (codes, identifiers) of every resource written, replaced in bulk by `finish`.
        self._search_rows: dict[tuple[str, str], tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}
        self._search_values: dict[tuple[str, str], list[dict[str, Any]]] = {}  # fhir_search_index rows
        self._replaced: set[tuple[str, str]] = set()  # resources that had rows before this batch
        self._new_patients: dict[str, tuple[str | None, str]] = {}  # source Patient id -> (facility, key)
        self._versions: list[dict[str, Any]] = []  # history rows of every version written, inserted by `finish`
        # Link history rows, in the order the changes were made: one executemany in `finish` instead of an
        # INSERT per row (the ORM cannot batch them on SQLite, whose autoincrement ids it must read back).
        self._link_history: list[dict[str, Any]] = []

    def prefetch(self, events: list[Event]) -> None:
        """Loads every stored row the batch will touch in one query (the identity map keeps them)."""
        keys = {
            (r["resourceType"], r["id"])
            for e in events
            for r in (e.resource, *e.related)
            if isinstance(r.get("id"), str)
        }
        keys |= {  # the Patients the batch's resources name, to file them under (see `upsert`)
            ("Patient", ref) for e in events for r in (e.resource, *e.related) if (ref := patient_reference(r))
        }
        keys = {k for k in keys if self.session.identity_map.get(self.session.identity_key(StoredResource, k)) is None}
        self._prefetch_rows(StoredResource, _resource_keys_in, keys)
        patients = [e for e in events if e.resource.get("resourceType") == "Patient"]
        self._prefetch_rows(PatientLink, PatientLink.patient_key.in_, {e.patient_key for e in patients})
        identifiers = {pair for e in patients for pair in linking_identifiers(e.resource, e.source.facility_id)}
        found = self._prefetch_rows(
            PatientIdentifier, lambda chunk: pairs_in(PatientIdentifier.system, PatientIdentifier.value, chunk), identifiers
        )
        self._prefetch_rows(PatientLink, PatientLink.patient_key.in_, {row.patient_key for row in found})
        blocks: set[str] = set()
        for event in patients:
            found_features = self._features[event.event_id] = self.rules.extract(event.resource)
            blocks.update(self.rules.keys(found_features))
        self.index.prefetch(blocks)

    def _prefetch_rows(self, model: type, where: Callable[[list[Any]], Any], keys: set[Any]) -> list[Any]:
        """Loads rows by primary key into the identity map; remembers the keys that are absent."""
        wanted = sorted(k for k in keys if (model, k) not in self._pending and (model, k) not in self._absent_rows)
        loaded: list[Any] = []
        for chunk in _chunks(wanted, 300):
            rows: Sequence[Any] = self.session.scalars(select(model).where(where(chunk))).all()
            loaded.extend(rows)
            self._prefetched.extend(rows)
            present = {self.session.identity_key(instance=row)[1] for row in rows}
            present = {key[0] if len(key) == 1 else key for key in present}
            self._absent_rows |= {(model, k) for k in chunk if k not in present}
        return loaded

    def apply(self, event: Event) -> None:
        resource = event.resource
        if event.event_type == "patient_merge":
            self.merge(event)
        elif resource.get("resourceType") == "Patient":
            self.upsert_patient(event)
        else:
            self.upsert(resource, event, event.patient_key)
        for related in event.related:
            self.upsert(related, event, event.patient_key)

    # Any resource ---------------------------------------------------------------------------------

    def upsert(self, resource: dict[str, Any], event: Event, patient_key: str | None, golden: bool = False,
               force: bool = False) -> bool:
        """Stores the resource unless a newer version (by source time) is already there (`force`: even so)."""
        if resource.get("resourceType") != "Patient" and not golden:
            patient_key = self._filed_under(resource, event.source.facility_id, patient_key)
        return self.write(resource, event.occurred_at, event.source.facility_id, event.event_id, patient_key, golden,
                          force)

    def _filed_under(self, resource: dict[str, Any], facility_id: str, patient_key: str | None) -> str | None:
        """The patient key of the member's own Patient the resource names (`subject`), when that
        Patient is stored: the reference decides, not the key a door derived from it (a hashed id
        cannot be read back to its record number). Another member's Patient is never used."""
        reference = patient_reference(resource)
        named = self._stored("Patient", reference) if reference else None
        if named is not None and not named.golden and named.facility_id == facility_id and named.patient_key:
            return named.patient_key
        return patient_key

    def write(
        self,
        resource: dict[str, Any],
        occurred_at: datetime,
        facility_id: str | None,
        event_id: str | None,
        patient_key: str | None,
        golden: bool = False,
        force: bool = False,
    ) -> bool:
        """Stores a resource; `force` for the hub's own resources (golden patients, review tasks)."""
        rtype, rid = resource["resourceType"], resource.get("id")
        if not rid:
            raise ValueError(f"{rtype} without an id cannot be stored")
        row = self._stored(rtype, rid)
        if row is not None and row.occurred_at > occurred_at and not (golden or force):
            return False  # an older version arrived late: keep the newer one
        existed = row is not None
        now = utcnow()
        version = (row.version_id + 1) if row is not None else 1
        stored = dict(resource)
        stored["meta"] = {**(resource.get("meta") or {}), "versionId": str(version), "lastUpdated": now.isoformat()}
        if row is None:
            row = StoredResource(resource_type=rtype, id=rid)
            self._add(row, (rtype, rid))
        row.version_id = version
        row.last_updated = now
        row.occurred_at = max(occurred_at, row.occurred_at) if existed else occurred_at
        row.facility_id = facility_id if not golden else None
        row.patient_key = patient_key
        row.date = clinical_date(resource)
        code = main_code(resource)
        row.code = code if code is not None and len(code) <= MAIN_CODE_MAX else None  # shown, never searched
        subject = patient_reference(resource) if rtype != "Patient" else None
        row.subject_id = subject if subject is not None and len(subject) <= FHIR_ID_MAX else None
        row.status = str(resource.get("status")) if resource.get("status") else None
        row.golden = golden
        row.source_event_id = event_id
        row.content = _dumps(stored)
        self._versions.append({
            "resource_type": rtype, "id": rid, "version_id": version, "last_updated": now,
            "facility_id": row.facility_id, "golden": golden, "deleted": False, "content": row.content,
        })
        if existed:
            self._replaced.add((rtype, rid))
        try:
            check_resource(resource, rtype)  # the doors check the same limits before they acknowledge
        except LimitError as exc:
            raise PermanentError(f"{rtype}/{rid} cannot be stored and searched: {exc}", "validate") from None
        identifiers: dict[tuple[str, str], None] = {}
        for identifier in resource.get("identifier") or []:
            pair = (str(identifier.get("system") or ""), str(identifier.get("value") or ""))
            if pair[1]:
                identifiers[pair] = None
        codes = {(system, code): None for system, code in codings(resource)}
        self._search_rows[(rtype, rid)] = (list(codes), list(identifiers))
        self._search_values[(rtype, rid)] = rows_of(stored)
        return True

    def _get(self, model: type, key: Any) -> Any:
        pending = self._pending.get((model, key))
        if pending is not None:
            return pending
        if (model, key) in self._absent_rows:
            return None
        return self.session.get(model, key)

    def _add(self, obj: Any, key: Any) -> None:
        self.session.add(obj)
        self._pending[(type(obj), key)] = obj
        self._absent_rows.discard((type(obj), key))

    def _stored(self, rtype: str, rid: str) -> StoredResource | None:
        if (pending := self._pending.get((StoredResource, (rtype, rid)))) is not None:
            return pending
        key = self.session.identity_key(StoredResource, (rtype, rid))
        cached = self.session.identity_map.get(key)
        if cached is not None:
            return cached
        if (StoredResource, (rtype, rid)) in self._absent_rows:
            return None
        return self.session.get(StoredResource, (rtype, rid))

    # Patients -------------------------------------------------------------------------------------

    def upsert_patient(self, event: Event) -> None:
        patient = dict(event.resource)
        key = event.patient_key
        stored = self._stored("Patient", patient["id"])
        was_from_images = stored is not None and from_image_archive(json.loads(stored.content))
        if from_image_archive(patient) and stored is not None and not was_from_images:
            return  # the member's registration system knows this patient better than its image archive
        link = self._get(PatientLink, key)
        identifiers = linking_identifiers(patient, event.source.facility_id)
        found = self._features.pop(event.event_id, None) or self.rules.extract(patient)
        new_record = link is None
        if link is None:
            link = self._link_new(key, patient, identifiers, found, event)
            self._new_patients[patient["id"]] = (event.source.facility_id, key)
        else:
            self._relink_by_identifier(link, identifiers)
        link.source_patient_id = patient["id"]
        link.facility_id = event.source.facility_id
        link.features = self.rules.dump_features(found)
        self.index.remember(key, link.community_patient_id, found, new_record)
        for system, value in identifiers:
            if self._get(PatientIdentifier, (system, value)) is None:
                self._add(PatientIdentifier(system=system, value=value, patient_key=key), (system, value))
        patient["link"] = [{"other": {"reference": f"Patient/{link.community_patient_id}"}, "type": "refer"}]
        # A registration replaces what an image's patient module said, whichever is newer.
        if self.upsert(patient, event, key, force=was_from_images and not from_image_archive(patient)):
            self.rebuild_golden(link.community_patient_id, event.occurred_at)

    def _link_new(
        self, key: str, patient: dict[str, Any], identifiers: list[tuple[str, str]], found: Any, event: Event
    ) -> PatientLink:
        score: float | None = None
        detail = ""
        deterministic = self._find_by_identifier(identifiers)
        if deterministic is not None:
            cp_id, rule = deterministic
        else:
            decision = self.index.match(found, exclude=key)
            if decision.outcome == "link" and decision.community_id:
                cp_id, rule, score, detail = decision.community_id, "score", decision.candidates[0].score.total, decision.reason
            else:
                cp_id, rule, detail = community_patient_id(key), "new", decision.reason
            if decision.outcome == "possible":
                for candidate in decision.candidates:
                    reviews.open_review(self, key, patient["id"], candidate, event.occurred_at)
        link = PatientLink(
            patient_key=key, source_patient_id=patient["id"], community_patient_id=cp_id, linked_by=rule,
            score=score, rules_version=self.rules.version if rule in AUTOMATIC_RULES else None,
        )
        self._add(link, key)
        self.history("link", key, patient["id"], None, cp_id, MATCHER, score=score, detail=f"{rule}: {detail}".strip(": "))
        return link

    def _relink_by_identifier(self, link: PatientLink, identifiers: list[tuple[str, str]]) -> None:
        """A record that gained a resident ID (say) joins the community that ID belongs to."""
        if link.pinned or link.linked_by not in AUTOMATIC_RULES:
            return
        found = self._find_by_identifier(identifiers, exclude=link.patient_key)
        if found is None or found[0] == link.community_patient_id:
            return
        self.move_link(link, found[0], f"{found[1]}: identifier now shared")
        link.linked_by, link.score, link.rules_version = found[1], None, None

    @abstractmethod
    def merge(self, event: Event) -> None:
        """Applies an HL7 A40 merge of two member records."""

    @abstractmethod
    def move_link(self, link: PatientLink, community_id: str, detail: str) -> None:
        """Moves a member record to another community patient (the matcher's decision)."""

    def _find_by_identifier(
        self, identifiers: list[tuple[str, str]], exclude: str | None = None
    ) -> tuple[str, str] | None:
        for system, value in identifiers:  # resident ID first: it is the strongest
            row = self._get(PatientIdentifier, (system, value))
            if row is None or row.patient_key == exclude:
                continue
            owner = self._get(PatientLink, row.patient_key)
            if owner is not None:
                return owner.community_patient_id, "resident-id" if system == RESIDENT_ID else "identifier"
        return None

    def history(
        self,
        action: str,
        patient_key: str | None,
        source_patient_id: str | None,
        from_id: str | None,
        to_id: str | None,
        actor: str,
        operation_id: str | None = None,
        score: float | None = None,
        detail: str | None = None,
    ) -> None:
        self._link_history.append({
            "operation_id": operation_id or uuid.uuid4().hex, "action": action, "patient_key": patient_key,
            "source_patient_id": source_patient_id, "from_community_id": from_id, "to_community_id": to_id,
            "score": score, "detail": detail or None, "actor": actor[:100], "at": utcnow(),
        })

    def rebuild_golden(self, cp_id: str, occurred_at: datetime | None = None, replaced_by: str | None = None) -> None:
        """Marks a community Patient for rebuilding when the batch finishes (`finish`)."""
        held_time, held_replaced = self._dirty.get(cp_id, (None, None))
        latest = max(filter(None, (held_time, occurred_at)), default=None)
        self._dirty[cp_id] = (latest, replaced_by or held_replaced)

    def finish(self) -> None:
        """Completes the batch: rebuilds every community Patient it touched, each once, from its
        member records, and writes the search rows. Call before the transaction commits."""
        while self._dirty:
            dirty, self._dirty = self._dirty, {}
            self.session.flush()
            # The links first, then their records by primary key: joined in one query, SQLite's planner
            # walks every stored Patient to find the few of these communities.
            members: dict[str, list[str]] = {cp: [] for cp in dirty}
            for chunk in _chunks(sorted(dirty), 300):
                for cp_id, source_id in self.session.execute(
                    select(PatientLink.community_patient_id, PatientLink.source_patient_id)
                    .where(PatientLink.community_patient_id.in_(chunk))
                ):
                    members[cp_id].append(source_id)
            self._prefetch_rows(StoredResource, _resource_keys_in,
                                {("Patient", key) for cp, ids in members.items() for key in (cp, *ids)})
            for cp_id, (when, replaced_by) in dirty.items():
                sources = [row for source_id in members[cp_id] if (row := self._stored("Patient", source_id)) is not None]
                sources.sort(key=lambda row: (row.occurred_at, row.id))
                self._write_golden(cp_id, sources, when, replaced_by)
        self._file_early_arrivals()
        self._write_search_rows()

    def _file_early_arrivals(self) -> None:
        """Resources that came before their Patient (another topic, another partition) were filed
        under the key their door derived; now that the member's Patient is here, they join it."""
        if not self._new_patients:
            return
        self.session.flush()
        for chunk in _chunks(sorted(self._new_patients), 300):
            rows = self.session.execute(
                select(StoredResource.resource_type, StoredResource.id, StoredResource.subject_id,
                       StoredResource.facility_id, StoredResource.patient_key)
                .where(StoredResource.subject_id.in_(chunk), StoredResource.resource_type != "Patient",
                       StoredResource.golden.is_(False))
            ).all()
            for rtype, rid, subject, facility, key in rows:
                owner, patient_key = self._new_patients[str(subject)]
                if facility == owner and key != patient_key:
                    self.session.execute(
                        update(StoredResource).where(StoredResource.resource_type == rtype, StoredResource.id == rid)
                        .values(patient_key=patient_key), execution_options=_NO_SYNC,
                    )
                    stored = self.session.identity_map.get(self.session.identity_key(StoredResource, (rtype, rid)))
                    if stored is not None:
                        self.session.expire(stored, ["patient_key"])
        self._new_patients.clear()

    def _write_search_rows(self) -> None:
        """Codes and identifiers of the batch's resources, in a few statements instead of per row."""
        self.index.flush()
        self.session.flush()
        for model in (ResourceCode, ResourceIdentifier):
            for chunk in _chunks(sorted(self._replaced), 300):
                self.session.execute(
                    delete(model).where(pairs_in(model.resource_type, model.id, chunk)), execution_options=_NO_SYNC
                )
        codes = [
            {"resource_type": rtype, "id": rid, "system": system, "code": code}
            for (rtype, rid), (pairs, _) in self._search_rows.items()
            for system, code in pairs
        ]
        identifiers = [
            {"resource_type": rtype, "id": rid, "system": system, "value": value}
            for (rtype, rid), (_, pairs) in self._search_rows.items()
            for system, value in pairs
        ]
        if codes:
            self.session.execute(insert(core_table(ResourceCode)), codes)
        if identifiers:
            self.session.execute(insert(core_table(ResourceIdentifier)), identifiers)
        values = self._changed_search_values()
        if values:
            self.session.execute(insert(core_table(SearchValue)), values)
        if self._versions:  # every version of the batch in one executemany
            self.session.execute(insert(core_table(ResourceVersion)), self._versions)
            self._versions = []
        if self._link_history:
            self.session.execute(insert(core_table(LinkHistory)), self._link_history)
            self._link_history = []
        self._search_rows.clear()
        self._search_values.clear()
        self._replaced.clear()

    def _changed_search_values(self) -> list[dict[str, Any]]:
        """Deletes the index rows of replaced resources that their new version no longer has, and returns
        the rows to insert. A rewritten resource mostly keeps its values (a community record gains a link,
        not a new name), and each row kept is an insert and a delete in three indexes saved."""
        table = core_table(SearchValue)
        held: dict[tuple[str, str], dict[tuple[Any, ...], int]] = {}
        stale: list[int] = []
        for chunk in _chunks(sorted(self._replaced), 300):
            for row in self.session.execute(
                select(table.c.row_id, table.c.resource_type, table.c.id, *(table.c[c] for c in _VALUE_COLUMNS))
                .where(pairs_in(table.c.resource_type, table.c.id, chunk))
            ):
                if held.setdefault((row[1], row[2]), {}).setdefault(tuple(row[3:]), row[0]) != row[0]:
                    stale.append(row[0])  # the same value twice: keep one
        fresh: list[dict[str, Any]] = []
        for key, rows in self._search_values.items():
            old = held.pop(key, {})
            fresh += [row for row in rows if old.pop(_value_of(row), None) is None]
            stale += old.values()
        stale += [row_id for old in held.values() for row_id in old.values()]
        for chunk in _chunks(sorted(stale), 500):
            self.session.execute(delete(table).where(table.c.row_id.in_(chunk)))
        return fresh

    def _write_golden(
        self, cp_id: str, sources: list[StoredResource], occurred_at: datetime | None, replaced_by: str | None
    ) -> None:
        """A community left with no records stays, inactive, pointing at the community that took
        them (`replaced-by`)."""
        records = [json.loads(row.content) for row in sources]
        when = occurred_at or utcnow()
        if not records:
            if self._stored("Patient", cp_id) is None:
                return
            empty: dict[str, Any] = {"resourceType": "Patient", "id": cp_id, "meta": {"tag": [GOLDEN_TAG]}, "active": False}
            if replaced_by:
                empty["link"] = [{"other": {"reference": f"Patient/{replaced_by}"}, "type": "replaced-by"}]
            self.write(empty, when, None, None, None, golden=True)
            return
        active = [r for r in records if r.get("active") is not False] or records
        latest = active[-1]
        golden: dict[str, Any] = {
            "resourceType": "Patient",
            "id": cp_id,
            "meta": {"tag": [GOLDEN_TAG]},
            "identifier": _union(r.get("identifier") for r in active),
            "active": True,
            "name": latest.get("name") or _first(r.get("name") for r in active),
            "telecom": _union(r.get("telecom") for r in reversed(active)),
            "gender": latest.get("gender") or _first(r.get("gender") for r in active),
            "birthDate": latest.get("birthDate") or _first(r.get("birthDate") for r in active),
            "address": latest.get("address") or _first(r.get("address") for r in active),
            "link": [{"other": {"reference": f"Patient/{r['id']}"}, "type": "seealso"} for r in records],
        }
        golden = {k: v for k, v in golden.items() if v not in (None, [], "")}
        self.write(golden, when, None, None, None, golden=True)


def pairs_in(first: Any, second: Any, pairs: list[tuple[Any, Any]]) -> Any:
    """`(first, second) IN pairs`, written as `first = a AND second IN (...)` per value of `first`:
    SQLite scans the whole table for a row-value IN, but uses the primary key for this."""
    grouped: dict[Any, list[Any]] = {}
    for a, b in pairs:
        grouped.setdefault(a, []).append(b)
    return or_(*(and_(first == a, second.in_(bs)) for a, bs in grouped.items()))


def _resource_keys_in(keys: list[tuple[str, str]]) -> Any:
    return pairs_in(StoredResource.resource_type, StoredResource.id, keys)


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
