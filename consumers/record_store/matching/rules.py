"""Matching rules: weights per field outcome and the thresholds, from YAML, with a version.

The version is a hash of the rules' content, stored with every link the scores made, so a rules
change is noticed and those links are re-matched.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from hub.core.errors import PermanentError

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


class RulesError(PermanentError, ValueError):
    """A rules file that cannot be used; the message names the file and the entry."""


def load_rules(path: Path | None = None) -> MatchRules:
    path = path or DEFAULT_RULES
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"{path}: cannot read matching rules: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from None
    try:
        return MatchRules.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise RulesError(f"{path}: {where}: {first['msg']}") from None
