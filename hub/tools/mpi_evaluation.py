"""Measures the patient index on the labelled test set: records go through the real record store
(the same consumer, database and rules as production), then the links are compared with the
labels, pair by pair.

Precision counts pairs put in one community automatically (identifiers or score) that really are
one person. Recall counts true pairs found automatically, and found automatically or put in front
of a reviewer (a possible-match task between one record and the other's community).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from consumers.record_store.models import MatchReview, PatientLink
from hub.core.consumer import Consumer, Delivery
from hub.core.db import Database
from hub.core.progress import NO_PROGRESS, Advance
from hub.tools.demo.matching_dataset import LabelledSet, labelled_set


@dataclass
class Evaluation:
    records: int
    people: int
    communities: int
    reviews: int
    seconds: float
    true_pairs: int
    linked_pairs: int
    correct_links: int
    found_with_reviews: int
    missed_by_error: dict[str, int] = field(default_factory=dict)
    wrong_links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct_links / self.linked_pairs if self.linked_pairs else 1.0

    @property
    def recall_links(self) -> float:
        return self.correct_links / self.true_pairs if self.true_pairs else 1.0

    @property
    def recall_with_reviews(self) -> float:
        return self.found_with_reviews / self.true_pairs if self.true_pairs else 1.0

    @property
    def review_share(self) -> float:
        """Open review tasks per record: the work left to people."""
        return self.reviews / self.records if self.records else 0.0

    def report(self) -> str:
        lines = [
            f"records {self.records}, people {self.people}, community patients {self.communities}, "
            f"open reviews {self.reviews} (review share {self.review_share:.4f}), matched in {self.seconds:.1f} s ({self.records / self.seconds:.0f} records/s)",
            f"true pairs {self.true_pairs}, linked pairs {self.linked_pairs}, correct {self.correct_links}",
            f"precision of automatic links        {self.precision:.4f}",
            f"recall of automatic links           {self.recall_links:.4f}",
            f"recall of links + possible matches  {self.recall_with_reviews:.4f}",
        ]
        if self.missed_by_error:
            missed = ", ".join(f"{k} {v}" for k, v in sorted(self.missed_by_error.items(), key=lambda kv: -kv[1]))
            lines.append(f"pairs missed, by the errors their records carry: {missed}")
        return "\n".join(lines)


def evaluate(database: Database, records: int, seed: int, consumer: Consumer, batch: int = 500) -> Evaluation:
    """On the synthetic Chinese county (matching_dataset.py)."""
    return evaluate_set(database, labelled_set(records, seed), consumer, batch)


def evaluate_set(database: Database, data: LabelledSet, consumer: Consumer, batch: int = 500,
                 on_progress: Advance = NO_PROGRESS) -> Evaluation:
    """On any labelled set (a generated one, or a CSV / FHIR file read by labelled_sets.py); `on_progress`
    hears each batch of records loaded."""
    started = time.perf_counter()
    for i in range(0, len(data.events), batch):
        chunk = data.events[i : i + batch]
        with database.transaction() as session:
            consumer.apply_batch(session, [Delivery("eval", 0, i + j, None, None, (), 0, e) for j, e in enumerate(chunk)])
        on_progress(len(chunk))
    seconds = time.perf_counter() - started
    with database.sessions() as session:
        community = dict(session.execute(select(PatientLink.patient_key, PatientLink.community_patient_id)).all())
        reviews = session.execute(
            select(MatchReview.patient_key, MatchReview.candidate_community_id).where(MatchReview.status == "requested")
        ).all()
    members: dict[str, list[str]] = defaultdict(list)
    for key, cp in community.items():
        members[cp].append(key)
    linked = set(_pairs(members.values()))
    truth_groups: dict[int, list[str]] = defaultdict(list)
    for key, person in data.labels.items():
        truth_groups[person].append(key)
    truth = set(_pairs(truth_groups.values()))
    reviewed = {_pair(key, other) for key, cp in reviews for other in members.get(cp, ())}
    found = truth & (linked | reviewed)
    missed = Counter(e for a, b in truth - found for e in {*data.errors[a], *data.errors[b]})
    return Evaluation(
        records=len(data.events), people=len(truth_groups), communities=len(members), reviews=len(reviews),
        seconds=seconds, true_pairs=len(truth), linked_pairs=len(linked), correct_links=len(truth & linked),
        found_with_reviews=len(found), missed_by_error=dict(missed), wrong_links=sorted(linked - truth)[:20],
    )


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _pairs(groups: Iterable[list[str]]) -> Iterable[tuple[str, str]]:
    for group in groups:
        yield from itertools.combinations(sorted(group), 2)
