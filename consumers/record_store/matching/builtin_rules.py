"""The built-in rules for Chinese county registers: weights per fixed field and outcome (features.py,
scoring.py), with the matcher's interface (extract, dump and load features, blocking keys, compare)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import PrivateAttr

from consumers.record_store.matching.blocking import blocking_keys
from consumers.record_store.matching.features import Features, features
from consumers.record_store.matching.scoring import Score, score
from consumers.record_store.matching.thresholds import Thresholds, _Strict


class NameWeights(_Strict):
    same_characters: float
    same_pinyin: float
    fuzzy_pinyin: float
    reordered: float
    partial: float
    different: float


class SexWeights(_Strict):
    same: float
    different: float


class BirthWeights(_Strict):
    same: float
    swapped_day_month: float
    one_typo: float
    different: float


class PhoneWeights(_Strict):
    shared: float
    different: float


class AddressWeights(_Strict):
    same_village: float
    same_township: float
    different: float


class ResidentIdWeights(_Strict):
    one_typo: float
    different: float


class Weights(_Strict):
    name: NameWeights
    sex: SexWeights
    birth_date: BirthWeights
    phone: PhoneWeights
    address: AddressWeights
    resident_id: ResidentIdWeights


class MatchRules(_Strict):
    thresholds: Thresholds
    weights: Weights
    _version: str = PrivateAttr("")
    _table: dict[str, dict[str, float]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object) -> None:
        dumped = self.model_dump()
        self._version = hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:12]
        self._table = dumped["weights"]

    @property
    def table(self) -> dict[str, dict[str, float]]:
        """Weights by field and outcome, as plain dicts (scoring reads them for every pair)."""
        return self._table

    @property
    def version(self) -> str:
        return self._version

    # The matcher's interface (the same as field_rules.FieldRules') --------------------------------

    def extract(self, patient: dict[str, Any]) -> Features:
        return features(patient)

    def load_features(self, text: str) -> Features | None:
        """Features stored under built-in rules; None for field rules' (re-extracted on re-match)."""
        return Features.from_json(text) if text.startswith("[") else None

    def dump_features(self, f: Any) -> str:  # Features (features are opaque to the matcher)
        return f.to_json()

    def keys(self, f: Any) -> tuple[str, ...]:
        return blocking_keys(f)

    def compare(self, a: Any, b: Any) -> Score:
        return score(a, b, self)
