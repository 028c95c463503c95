"""Scores one record against another: the sum of field weights, with the reason for each part."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from consumers.record_store.matching import names
from consumers.record_store.matching.features import Features


class WeightTable(Protocol):
    @property
    def table(self) -> dict[str, dict[str, float]]: ...


class Part(NamedTuple):
    field: str
    outcome: str
    weight: float

    def __str__(self) -> str:
        return f"{self.field} {self.outcome} {self.weight:+g}"


@dataclass(frozen=True, slots=True)
class Score:
    total: float
    parts: tuple[Part, ...]
    certain: bool = False  # a comparison whose agreement alone makes the same person (field rules)

    def explain(self) -> str:
        return "; ".join(str(p) for p in self.parts)


_NAME_OUTCOMES = {"pinyin": "same_pinyin", "fuzzy": "fuzzy_pinyin", "reordered": "reordered", "partial": "partial"}


def score(a: Features, b: Features, rules: WeightTable) -> Score:
    w = rules.table  # field -> outcome -> weight
    parts: list[Part] = []
    if a.name and b.name:
        if a.han and a.han == b.han:
            outcome = "same_characters"
        else:
            outcome = _NAME_OUTCOMES.get(names.agreement(a.name, b.name), "different")
        parts.append(Part("name", outcome, w["name"][outcome]))
    if a.sex and b.sex:
        outcome = "same" if a.sex == b.sex else "different"
        parts.append(Part("sex", outcome, w["sex"][outcome]))
    if a.birth and b.birth:
        outcome = birth_outcome(a.birth, b.birth)
        parts.append(Part("birth_date", outcome, w["birth_date"][outcome]))
    if a.phones and b.phones:
        outcome = "different" if set(a.phones).isdisjoint(b.phones) else "shared"
        parts.append(Part("phone", outcome, w["phone"][outcome]))
    if outcome := address_outcome(a, b):
        parts.append(Part("address", outcome, w["address"][outcome]))
    if outcome := resident_id_outcome(a, b):
        parts.append(Part("resident_id", outcome, w["resident_id"][outcome]))
    return Score(round(sum(p.weight for p in parts), 3), tuple(parts))


def birth_outcome(a: str, b: str) -> str:
    if a == b:
        return "same"
    if a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return "swapped_day_month"
    return "one_typo" if one_keystroke(a, b) else "different"


def address_outcome(a: Features, b: Features) -> str:
    if a.village and b.village:
        if a.village == b.village:
            return "same_village"
        return "same_township" if a.township and a.township == b.township else "different"
    if a.township and b.township:
        return "same_township" if a.township == b.township else "different"
    return ""


def resident_id_outcome(a: Features, b: Features) -> str:
    """Two valid IDs that differ: two people. A failed check digit one keystroke away: a typo."""
    if a.resident_id and b.resident_id:
        return "different" if a.resident_id != b.resident_id else ""  # equal IDs link before scoring
    valid, typo = (a.resident_id, b.resident_id_typo) if a.resident_id else (b.resident_id, a.resident_id_typo)
    if valid and typo:
        return "one_typo" if one_keystroke(valid, typo) else ""
    return ""


def one_keystroke(a: str, b: str) -> bool:
    """Same length, and one character different or two adjacent characters swapped."""
    if len(a) != len(b):
        return False
    diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diffs) == 1:
        return True
    return len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
