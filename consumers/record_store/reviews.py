"""Possible matches waiting for a person, kept as rows and served as FHIR Tasks.

A Task's `focus` is the member record that arrived, `for` the community patient it may belong to;
its inputs carry the score and the explanation of every field's part in it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.record_store.matching.decision import Candidate
from consumers.record_store.matching.rules import AnyRules
from consumers.record_store.models import MatchReview, PatientLink
from hub.core.events import utcnow


class RecordWriter(Protocol):
    """What reviews need of the record store's writer (store.py), which opens them."""

    session: Session
    rules: AnyRules

    def _get(self, model: type, key: Any) -> Any: ...

    def _add(self, obj: Any, key: Any) -> None: ...

    def write(self, resource: dict[str, Any], occurred_at: datetime, facility_id: str | None, event_id: str | None,
              patient_key: str | None, golden: bool = False, force: bool = False) -> bool: ...

TASK_CODE = {"system": "urn:hub:mpi", "code": "possible-match", "display": "可能重复的患者 · Possible duplicate patient"}
OPEN = "requested"


def review_id(patient_key: str, community_id: str) -> str:
    return "mpi-" + hashlib.sha256(f"{patient_key}|{community_id}".encode()).hexdigest()[:20]


def open_review(writer: RecordWriter, patient_key: str, source_id: str, candidate: Candidate, when: datetime) -> None:
    """Opens (or refreshes) a review; a pair a reviewer already rejected is not asked again."""
    rid = review_id(patient_key, candidate.community_id)
    review = writer._get(MatchReview, rid)
    if review is not None and review.status != OPEN:
        return
    if review is None:
        review = MatchReview(id=rid, patient_key=patient_key, status=OPEN, created_at=utcnow())
        writer._add(review, rid)
    review.candidate_key = candidate.patient_key
    review.candidate_community_id = candidate.community_id
    review.score = candidate.score.total
    review.explanation = candidate.score.explain()
    review.rules_version = writer.rules.version
    publish(writer, review, source_id, when)


def close(writer: RecordWriter, review: MatchReview, status: str, actor: str, note: str | None = None) -> None:
    review.status = status
    review.decided_at = utcnow()
    review.decided_by = actor[:100]
    review.note = note
    link = writer._get(PatientLink, review.patient_key)
    publish(writer, review, link.source_patient_id if link else review.patient_key, review.decided_at)


def cancel_open(writer: RecordWriter, patient_key: str, actor: str, note: str, keep: str | None = None) -> None:
    """Cancels a record's open reviews (it was linked or unlinked some other way)."""
    for review in open_reviews(writer, patient_key):
        if review.id != keep:
            close(writer, review, "cancelled", actor, note)


def cancel_settled(writer: RecordWriter, patient_key: str, communities: set[str], actor: str, note: str) -> None:
    """Cancels a record's open reviews against communities a merge just joined it with."""
    for review in open_reviews(writer, patient_key):
        if review.candidate_community_id in communities:
            close(writer, review, "cancelled", actor, note)


def open_reviews(writer: RecordWriter, patient_key: str) -> list[MatchReview]:
    writer.session.flush()
    return list(writer.session.scalars(
        select(MatchReview).where(MatchReview.patient_key == patient_key, MatchReview.status == OPEN)
    ))


def rejected_communities(writer: RecordWriter, patient_key: str) -> frozenset[str]:
    writer.session.flush()
    return frozenset(writer.session.scalars(
        select(MatchReview.candidate_community_id).where(
            MatchReview.patient_key == patient_key, MatchReview.status == "rejected"
        )
    ))


def publish(writer: RecordWriter, review: MatchReview, source_id: str, when: datetime) -> None:
    writer.write(review_task(review, source_id), when, None, None, None, force=True)


def review_task(review: MatchReview, source_id: str) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": review.id,
        "status": review.status,
        "intent": "proposal",
        "priority": "routine",
        "code": {"coding": [TASK_CODE]},
        "description": f"Is Patient/{source_id} the same person as community Patient/{review.candidate_community_id}? "
        f"Score {review.score:g}.",
        "focus": {"reference": f"Patient/{source_id}"},
        "for": {"reference": f"Patient/{review.candidate_community_id}"},
        "authoredOn": review.created_at.isoformat(),
        "lastModified": (review.decided_at or review.created_at).isoformat(),
        "input": [
            {"type": {"text": "score"}, "valueDecimal": review.score},
            {"type": {"text": "explanation"}, "valueString": review.explanation},
            {"type": {"text": "candidate record"}, "valueString": review.candidate_key},
            {"type": {"text": "rules version"}, "valueString": review.rules_version},
        ],
    }
    if review.status != OPEN:
        decision = {"completed": "confirmed: linked", "rejected": "rejected: different people",
                    "cancelled": "cancelled"}.get(review.status, review.status)
        task["output"] = [{"type": {"text": "decision"}, "valueString": f"{decision} by {review.decided_by}"
                           + (f" ({review.note})" if review.note else "")}]
    return task
