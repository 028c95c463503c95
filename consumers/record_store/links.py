"""Changes to who is who: link, unlink, review decisions, merges (manual and HL7 A40), unmerges
and re-matching. Every change moves member records between community patients, never deletes
one, and writes a history row; an unmerge replays a merge's rows backwards.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.record_store import reviews
from consumers.record_store.models import LinkHistory, MatchReview, PatientLink
from consumers.record_store.store import AUTOMATIC_RULES, ResourceWriter, community_patient_id
from hub.core.errors import PermanentError
from hub.core.events import Event, utcnow


class LinkError(PermanentError, ValueError):
    """A link change that cannot be made; `status` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Change:
    operation_id: str
    moved: tuple[str, ...]  # patient keys
    communities: tuple[str, ...]  # communities touched (rebuilt)


class LinkEditor:
    def __init__(self, writer: ResourceWriter, actor: str) -> None:
        self.writer = writer
        self.session = writer.session
        self.actor = actor

    # Lookups ---------------------------------------------------------------------------------------

    def record(self, patient_id: str) -> PatientLink:
        """The member record behind a source Patient id (or a facility/local patient key)."""
        link = self.writer._get(PatientLink, patient_id)
        if link is None:
            link = self.session.scalars(select(PatientLink).where(PatientLink.source_patient_id == patient_id)).first()
        if link is None:
            raise LinkError(f"Patient/{patient_id} is not a member record known to the patient index", 404)
        return link

    def members(self, community_id: str) -> list[PatientLink]:
        self.session.flush()
        return list(self.session.scalars(
            select(PatientLink).where(PatientLink.community_patient_id == community_id).order_by(PatientLink.patient_key)
        ))

    def community(self, community_id: str) -> list[PatientLink]:
        found = self.members(community_id)
        if not found:
            raise LinkError(f"Patient/{community_id} is not a community patient with member records", 404)
        return found

    # The one primitive ------------------------------------------------------------------------------

    def move(
        self, link: PatientLink, to_id: str, action: str, operation_id: str | None = None,
        score: float | None = None, detail: str | None = None, rebuild: bool = True,
    ) -> str:
        """Moves one member record to another community; the source data stays as it is."""
        from_id = link.community_patient_id
        link.community_patient_id = to_id
        link.linked_at = utcnow()
        self.writer.index.moved(link.patient_key, to_id)
        self.writer.history(action, link.patient_key, link.source_patient_id, from_id, to_id, self.actor,
                            operation_id, score, detail)
        self._repoint_source(link)
        if rebuild:
            self.writer.rebuild_golden(to_id)
            self.writer.rebuild_golden(from_id, replaced_by=to_id)
        return from_id

    def _repoint_source(self, link: PatientLink) -> None:
        row = self.writer._stored("Patient", link.source_patient_id)
        if row is None:
            return
        resource = json.loads(row.content)
        others = [x for x in resource.get("link") or [] if x.get("type") != "refer"]
        resource["link"] = [{"other": {"reference": f"Patient/{link.community_patient_id}"}, "type": "refer"}, *others]
        self.writer.write(resource, row.occurred_at, row.facility_id, row.source_event_id, row.patient_key, force=True)

    # Reviewer actions -------------------------------------------------------------------------------

    def link(self, patient_id: str, community_id: str, note: str | None = None) -> Change:
        record = self.record(patient_id)
        self.community(community_id)
        if record.community_patient_id == community_id:
            raise LinkError(f"Patient/{record.source_patient_id} is already linked to Patient/{community_id}")
        op = uuid.uuid4().hex
        old = self.move(record, community_id, "link", op, detail=note)
        self._pin(record, "manual")
        reviews.cancel_open(self.writer, record.patient_key, self.actor, f"linked to Patient/{community_id}")
        return Change(op, (record.patient_key,), (community_id, old))

    def unlink(self, patient_id: str, note: str | None = None) -> Change:
        """The record leaves its community for a new one of its own."""
        record = self.record(patient_id)
        if len(self.members(record.community_patient_id)) < 2:
            raise LinkError(f"Patient/{record.source_patient_id} is the only record of its community; nothing to unlink")
        op = uuid.uuid4().hex
        fresh = "cp-" + hashlib.sha256(f"{record.patient_key}|{op}".encode()).hexdigest()[:20]
        old = self.move(record, fresh, "unlink", op, detail=note)
        self._pin(record, "manual")
        reviews.cancel_open(self.writer, record.patient_key, self.actor, "unlinked")
        return Change(op, (record.patient_key,), (fresh, old))

    def confirm(self, review_id: str, note: str | None = None) -> Change:
        review = self._open_review(review_id)
        record = self.writer._get(PatientLink, review.patient_key)
        target = self.writer._get(PatientLink, review.candidate_key)
        if record is None or target is None:
            raise LinkError(f"the records of review {review_id} are no longer known", 404)
        op = uuid.uuid4().hex
        community = target.community_patient_id  # where the candidate lives now (it may have moved)
        moved: tuple[str, ...] = ()
        old = record.community_patient_id
        if old != community:
            self.move(record, community, "confirm", op, score=review.score, detail=note or review.explanation)
            moved = (record.patient_key,)
        self._pin(record, "review")
        reviews.close(self.writer, review, "completed", self.actor, note)
        reviews.cancel_open(self.writer, record.patient_key, self.actor, f"confirmed {review_id}", keep=review_id)
        return Change(op, moved, (community, old))

    def reject(self, review_id: str, note: str | None = None) -> Change:
        review = self._open_review(review_id)
        op = uuid.uuid4().hex
        record = self.writer._get(PatientLink, review.patient_key)
        self.writer.history("reject", review.patient_key, record.source_patient_id if record else None,
                            review.candidate_community_id, None, self.actor, op, review.score, note)
        reviews.close(self.writer, review, "rejected", self.actor, note)
        return Change(op, (), ())

    def _open_review(self, review_id: str) -> MatchReview:
        review = self.writer._get(MatchReview, review_id)
        if review is None:
            raise LinkError(f"Task/{review_id} is not a patient-matching review", 404)
        if review.status != reviews.OPEN:
            raise LinkError(f"Task/{review_id} was already decided ({review.status})")
        return review

    def _pin(self, record: PatientLink, rule: str) -> None:
        record.pinned, record.linked_by, record.rules_version, record.score = True, rule, None, None

    # Merges -----------------------------------------------------------------------------------------

    def merge(self, survivor_id: str, merged_id: str, note: str | None = None, action: str = "merge") -> Change:
        """Every record of community `merged_id` joins `survivor_id`; the merged golden Patient stays,
        inactive, with a `replaced-by` link."""
        if survivor_id == merged_id:
            raise LinkError("a community patient cannot be merged into itself", 400)
        self.community(survivor_id)
        records = self.community(merged_id)
        op = uuid.uuid4().hex
        for record in records:
            self.move(record, survivor_id, action, op, detail=note, rebuild=False)
            self._pin(record, "merge")
            reviews.cancel_settled(self.writer, record.patient_key, {survivor_id, merged_id}, self.actor, "merged")
        for record in self.members(survivor_id):
            reviews.cancel_settled(self.writer, record.patient_key, {survivor_id, merged_id}, self.actor, "merged")
        self.writer.rebuild_golden(survivor_id)
        self.writer.rebuild_golden(merged_id, replaced_by=survivor_id)
        return Change(op, tuple(r.patient_key for r in records), (survivor_id, merged_id))

    def unmerge(self, operation_id: str, note: str | None = None) -> Change:
        """Undoes a merge, an A40 or a link: each record it moved goes back, if it was not moved since."""
        rows = list(self.session.scalars(
            select(LinkHistory).where(LinkHistory.operation_id == operation_id).order_by(LinkHistory.id)
        ))
        if not rows:
            raise LinkError(f"no link change has operation id {operation_id}", 404)
        if any(r.action == "unmerge" for r in rows):
            raise LinkError(f"operation {operation_id} is itself an unmerge; merge again instead")
        op = uuid.uuid4().hex
        moved: list[str] = []
        touched: set[str] = set()
        for row in rows:
            if row.patient_key is None or row.from_community_id is None:
                continue
            record = self.writer._get(PatientLink, row.patient_key)
            if record is None or record.community_patient_id != row.to_community_id:
                continue  # moved again since: leave it where a later decision put it
            self.move(record, row.from_community_id, "unmerge", op, detail=note or f"undo {operation_id}",
                      rebuild=False)
            self._pin(record, "manual")
            moved.append(record.patient_key)
            touched |= {row.from_community_id, row.to_community_id or ""}
        if not moved:
            raise LinkError(f"the records of operation {operation_id} have all moved since; nothing to undo")
        for community in sorted(touched - {""}):
            self.writer.rebuild_golden(community)
        return Change(op, tuple(moved), tuple(sorted(touched - {""})))

    def apply_a40(self, event: Event) -> None:
        """A member merged two of its records: the survivor (the event's Patient) is stored as
        usual, the merged-away record joins the survivor's community and is kept, inactive."""
        survivor = event.resource
        merged_ids = [
            link["other"]["reference"].removeprefix("Patient/")
            for link in survivor.get("link") or []
            if link.get("type") == "replaces" and isinstance(link.get("other"), dict)
        ]
        clean = dict(survivor)
        clean["link"] = [x for x in survivor.get("link") or [] if x.get("type") != "replaces"]
        self.writer.upsert_patient(_with_resource(event, clean))
        survivor_link = self.writer._get(PatientLink, event.patient_key)
        op = uuid.uuid4().hex
        for merged_id in merged_ids:
            try:
                merged = self.record(merged_id)
            except LinkError:
                self.writer.history("a40-merge", None, merged_id, None, survivor_link.community_patient_id,
                                    self.actor, op, detail=f"Patient/{merged_id} is not known; nothing moved")
                continue
            target, source = survivor_link.community_patient_id, merged.community_patient_id
            if source != target:
                self.move(merged, target, "a40-merge", op, detail=f"replaced by Patient/{survivor['id']}")
            for key in (merged.patient_key, survivor_link.patient_key):
                reviews.cancel_settled(self.writer, key, {source, target}, self.actor, "merged by HL7 A40")
            self._pin(merged, "merge")
            self._retire(merged, survivor["id"], event)

    def _retire(self, merged: PatientLink, survivor_id: str, event: Event) -> None:
        row = self.writer._stored("Patient", merged.source_patient_id)
        if row is None:
            return
        resource = json.loads(row.content)
        resource["active"] = False
        links = [x for x in resource.get("link") or [] if x.get("type") != "replaced-by"]
        resource["link"] = [*links, {"other": {"reference": f"Patient/{survivor_id}"}, "type": "replaced-by"}]
        self.writer.write(resource, event.occurred_at, row.facility_id, event.event_id, row.patient_key, force=True)
        self.writer.rebuild_golden(merged.community_patient_id)

    # Re-matching ------------------------------------------------------------------------------------

    def rematch(self, limit: int = 500) -> int:
        """Re-decides up to `limit` automatic links made under other rules; returns how many it saw."""
        version = self.writer.rules.version
        stale = list(self.session.scalars(
            select(PatientLink)
            .where(PatientLink.pinned.is_(False), PatientLink.linked_by.in_(AUTOMATIC_RULES),
                   (PatientLink.rules_version != version) | PatientLink.rules_version.is_(None),
                   PatientLink.features.is_not(None))
            .order_by(PatientLink.patient_key)
            .limit(limit)
        ))
        for record in stale:
            self._rematch_one(record, version)
        return len(stale)

    def _rematch_one(self, record: PatientLink, version: str) -> None:
        found = self.writer.rules.load_features(record.features or "")
        if found is None:  # stored under another kind of rules: extract again from the member's record
            found = self._extract_again(record)
        excluded = reviews.rejected_communities(self.writer, record.patient_key)
        decision = self.writer.index.match(found, exclude=record.patient_key, excluded=excluded)
        current = record.community_patient_id
        companions = len(self.members(current)) > 1
        if decision.outcome == "link" and decision.community_id and decision.community_id != current:
            if not companions or record.linked_by == "score":
                self.move(record, decision.community_id, "rematch", score=decision.candidates[0].score.total,
                          detail=decision.reason)
                record.linked_by, record.score = "score", decision.candidates[0].score.total
        elif decision.outcome != "link" and record.linked_by == "score" and companions:
            fresh = community_patient_id(record.patient_key)
            if self.members(fresh):
                fresh = "cp-" + hashlib.sha256(f"{record.patient_key}|{version}".encode()).hexdigest()[:20]
            self.move(record, fresh, "rematch", detail=f"no longer a clear match: {decision.reason}")
            record.linked_by, record.score = "new", None
        if decision.outcome == "possible":
            for candidate in decision.candidates:
                if candidate.community_id != record.community_patient_id:
                    reviews.open_review(self.writer, record.patient_key, record.source_patient_id, candidate, utcnow())
        record.rules_version = version


    def _extract_again(self, record: PatientLink) -> Any:
        row = self.writer._stored("Patient", record.source_patient_id)
        found = self.writer.rules.extract(json.loads(row.content) if row is not None else {})
        record.features = self.writer.rules.dump_features(found)
        self.writer.index.remember(record.patient_key, record.community_patient_id, found, new_record=False)
        return found


def stale_links(session: Session, version: str) -> int:
    """How many automatic links were decided under rules other than `version`."""
    return int(session.scalar(
        select(func.count()).select_from(PatientLink).where(
            PatientLink.pinned.is_(False), PatientLink.linked_by.in_(AUTOMATIC_RULES),
            (PatientLink.rules_version != version) | PatientLink.rules_version.is_(None),
            PatientLink.features.is_not(None),
        )
    ) or 0)


def _with_resource(event: Event, resource: dict[str, Any]) -> Event:
    return replace(event, resource=resource, event_type="patient")
