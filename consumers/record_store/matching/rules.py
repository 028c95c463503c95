"""Matching rules: weights per field outcome and the thresholds, from YAML, with a version.

Two kinds of rules file: the built-in rules for Chinese county registers (`weights:`, this module,
fields and outcomes fixed in features.py and scoring.py), and field rules for any data
(`comparisons:`, field_rules.py). Both offer the matcher the same five methods: extract, dump and
load features, blocking keys, compare.

The version is a hash of the rules' content, stored with every link the scores made, so a rules
change is noticed and those links are re-matched.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from hub.core.errors import PermanentError

if TYPE_CHECKING:
    from consumers.record_store.matching.features import Features
    from consumers.record_store.matching.field_rules import FieldRules
    from consumers.record_store.matching.scoring import Score

DEFAULT_RULES = Path(__file__).resolve().parent / "rules.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    link: float
    possible: float
    ambiguity_margin: float = Field(ge=0)
    max_block_size: int = Field(gt=0)
    max_candidates: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.possible > self.link:
            raise ValueError(f"thresholds.possible ({self.possible}) must not exceed thresholds.link ({self.link})")
        return self


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
        from consumers.record_store.matching.features import features

        return features(patient)

    def load_features(self, text: str) -> Features | None:
        """Features stored under built-in rules; None for field rules' (re-extracted on re-match)."""
        from consumers.record_store.matching.features import Features

        return Features.from_json(text) if text.startswith("[") else None

    def dump_features(self, f: Features) -> str:
        return f.to_json()

    def keys(self, f: Features) -> tuple[str, ...]:
        from consumers.record_store.matching.blocking import blocking_keys

        return blocking_keys(f)

    def compare(self, a: Features, b: Features) -> Score:
        from consumers.record_store.matching.scoring import score

        return score(a, b, self)


# Either kind of rules file; the matcher only calls what both offer.
AnyRules: TypeAlias = "MatchRules | FieldRules"


class RulesError(PermanentError, ValueError):
    """A rules file that cannot be used; the message names the file and the entry."""


def load_rules(path: Path | None = None) -> MatchRules | FieldRules:
    path = path or DEFAULT_RULES
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"{path}: cannot read matching rules: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from None
    from consumers.record_store.matching.field_rules import FieldRules

    try:
        if isinstance(raw, dict) and "comparisons" in raw:
            return FieldRules.model_validate(raw)
        return MatchRules.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise RulesError(f"{path}: {where}: {first['msg']}") from None
