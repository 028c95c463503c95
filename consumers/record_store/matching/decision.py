"""From scored candidates to one of three outcomes: link, possible match (review), no match."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from consumers.record_store.matching.rules import AnyRules
from consumers.record_store.matching.scoring import Score


@dataclass(frozen=True)
class Candidate:
    community_id: str
    patient_key: str  # the best-scoring member record of that community
    score: Score


@dataclass(frozen=True)
class Decision:
    outcome: Literal["link", "possible", "none"]
    community_id: str | None = None  # the community to link to, for "link"
    candidates: tuple[Candidate, ...] = field(default=())  # best first, at or above "possible"
    reason: str = ""


def decide(candidates: list[Candidate], rules: AnyRules, excluded: frozenset[str] = frozenset()) -> Decision:
    """Best candidate per community; link only when the best is clear of the threshold and of the
    runner-up. `excluded` are communities a reviewer already said are someone else."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        if candidate.community_id in excluded:
            continue
        held = best.get(candidate.community_id)
        # The best record of each community; equal scores go to the smaller key, so that the
        # decision (and the review's candidate record) does not depend on arrival order.
        if held is None or (-candidate.score.total, candidate.patient_key) < (-held.score.total, held.patient_key):
            best[candidate.community_id] = candidate
    ranked = sorted(best.values(), key=lambda c: (-c.score.total, c.community_id))
    t = rules.thresholds
    certain = [c for c in ranked if c.score.certain]
    if len(certain) == 1:
        return Decision("link", certain[0].community_id, (certain[0], *(c for c in ranked if c is not certain[0]
                        and c.score.total >= t.possible))[:5], f"certain: {certain[0].score.explain()}")
    if len(certain) > 1:
        return Decision("possible", None, tuple(certain[:5]), f"{len(certain)} communities share a value that links alone")
    worth = tuple(c for c in ranked if c.score.total >= t.possible)[:5]
    if not worth:
        return Decision("none", reason="no candidate reached the possible-match threshold")
    top = worth[0]
    if top.score.total >= t.link:
        runner_up = worth[1].score.total if len(worth) > 1 else None
        if runner_up is None or top.score.total - runner_up >= t.ambiguity_margin:
            return Decision("link", top.community_id, worth, f"score {top.score.total:g}: {top.score.explain()}")
        return Decision("possible", None, worth, f"two communities score {top.score.total:g} and {runner_up:g}")
    return Decision("possible", None, worth, f"score {top.score.total:g}: {top.score.explain()}")
