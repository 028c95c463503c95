"""Matching rules: weights per field outcome and the thresholds, from YAML, with a version.

Two kinds of rules file: the built-in rules for Chinese county registers (`weights:`, builtin_rules.py,
fields and outcomes fixed in features.py and scoring.py), and field rules for any data
(`comparisons:`, field_rules.py). Both offer the matcher the same five methods: extract, dump and
load features, blocking keys, compare.

The version is a hash of the rules' content, stored with every link the scores made, so a rules
change is noticed and those links are re-matched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

import yaml
from pydantic import ValidationError

from consumers.record_store.matching.builtin_rules import MatchRules
from consumers.record_store.matching.field_rules import FieldRules
from consumers.record_store.matching.thresholds import Thresholds
from hub.core.errors import PermanentError

__all__ = ["DEFAULT_RULES", "AnyRules", "FieldRules", "MatchRules", "RulesError", "Thresholds", "load_rules"]

DEFAULT_RULES = Path(__file__).resolve().parent / "rules.yaml"

# Either kind of rules file; the matcher only calls what both offer.
AnyRules: TypeAlias = MatchRules | FieldRules


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
    try:
        if isinstance(raw, dict) and "comparisons" in raw:
            return FieldRules.model_validate(raw)
        return MatchRules.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise RulesError(f"{path}: {where}: {first['msg']}") from None
