"""Matching on request (FHIR Patient/$match): the same identifiers, blocks and scores the record
store uses when a record arrives, without storing anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from consumers.record_store.matching.index import CandidateIndex
from consumers.record_store.matching.rules import AnyRules
from consumers.record_store.models import PatientIdentifier, PatientLink
from consumers.record_store.store import linking_identifiers


@dataclass(frozen=True)
class Match:
    community_id: str
    grade: str  # certain | probable | possible (FHIR match-grade)
    probability: float  # 0..1, for Bundle.entry.search.score
    explanation: str


def match(session: Session, rules: AnyRules, patient: dict[str, Any]) -> list[Match]:
    """Community patients that may be this person, best first."""
    found: dict[str, Match] = {}
    for system, value in linking_identifiers(patient):
        row = session.get(PatientIdentifier, (system, value))
        link = session.get(PatientLink, row.patient_key) if row else None
        if link is not None and link.community_patient_id not in found:
            found[link.community_patient_id] = Match(link.community_patient_id, "certain", 1.0, f"same identifier {system}")
    decision = CandidateIndex(session, rules).match(rules.extract(patient))
    t = rules.thresholds
    for candidate in decision.candidates:
        if candidate.community_id in found:
            continue
        total = candidate.score.total
        if decision.outcome == "link" and candidate.community_id == decision.community_id:
            grade = "certain"
        else:
            grade = "probable" if total >= t.link else "possible"
        # The weight sum is a log2 likelihood ratio; 0.5 at the possible-match threshold.
        probability = round(1 / (1 + 2 ** (t.possible - total)), 4)
        found[candidate.community_id] = Match(candidate.community_id, grade, probability, candidate.score.explain())
    return sorted(found.values(), key=lambda m: -m.probability)
