"""Field rules: matching rules for any data, as a list of comparisons (path, comparator, levels).

Each comparison names an element of the Patient (paths.py), a comparator (comparators.py) and its
levels, best first: the first level whose condition holds for some pair of values gives the
comparison's weight (a log2 likelihood ratio, written as `weight` or as Fellegi–Sunter `m` and
`u`). A value missing on either side adds nothing. A comparison with `links_alone: true` (an
insurance number, say) makes two records one person when its first level holds, whatever the rest
says, unless two different communities would both be certain. Blocking keys are lists of
comparisons, each optionally through a transform (`family | metaphone`, `birth_date | year`).
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import cached_property
from itertools import product
from typing import Any

import jellyfish
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from consumers.record_store.matching import comparators, paths
from consumers.record_store.matching.scoring import Part, Score
from consumers.record_store.matching.thresholds import Thresholds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Strict):
    when: str
    name: str = ""  # shown in explanations; the condition when empty
    weight: float | None = None
    m: float | None = Field(None, gt=0, le=1)
    u: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_weight(self) -> Level:
        if (self.weight is None) == (self.m is None or self.u is None):
            raise ValueError("give either weight, or both m and u")
        return self

    @property
    def label(self) -> str:
        return self.name or self.when

    @property
    def log_weight(self) -> float:
        if self.weight is not None:
            return self.weight
        assert self.m is not None and self.u is not None
        return math.log2(self.m / self.u)


class Comparison(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    path: str
    comparator: str
    levels: tuple[Level, ...] = Field(min_length=1)
    links_alone: bool = False

    @model_validator(mode="after")
    def _valid(self) -> Comparison:
        if self.comparator not in comparators.COMPARATORS:
            raise ValueError(f"comparator must be one of {', '.join(comparators.COMPARATORS)}, not {self.comparator!r}")
        paths.parse(self.path)
        for level in self.levels:
            comparators.condition(self.comparator, level.when)
        return self


_TRANSFORMS = {
    "value": lambda v: v,
    "metaphone": jellyfish.metaphone,
    "nysiis": jellyfish.nysiis,
    "soundex": jellyfish.soundex,
    "year": lambda v: v[:4],
    "month_day": lambda v: "".join(sorted((v[4:6], v[6:8]))),  # day and month in either order
    "first3": lambda v: v[:3],
    "first_token": lambda v: v.split(" ")[0].split("\t")[0],
    "street": lambda v: " ".join(v.split("\t")[:2]).strip(),
    "postcode": lambda v: v.split("\t")[2] if v.count("\t") >= 2 else "",
    "last4": lambda v: v[-4:],
}


class FieldRules(_Strict):
    thresholds: Thresholds
    comparisons: tuple[Comparison, ...] = Field(min_length=1)
    blocking: tuple[tuple[str, ...], ...] = Field(min_length=1)
    _version: str = PrivateAttr("")

    @field_validator("blocking")
    @classmethod
    def _keys_name_comparisons(cls, keys: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for key in keys:
            if not key:
                raise ValueError("a blocking key names at least one comparison")
            for part in key:
                name, _, transform = (s.strip() for s in part.partition("|"))
                if transform and transform not in _TRANSFORMS:
                    raise ValueError(f"blocking transform {transform!r} is not one of {', '.join(_TRANSFORMS)}")
        return keys

    @model_validator(mode="after")
    def _known_names(self) -> FieldRules:
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise ValueError("comparison names must be unique")
        for key in self.blocking:
            for part in key:
                if part.partition("|")[0].strip() not in names:
                    raise ValueError(f"blocking key part {part!r} names no comparison (known: {', '.join(names)})")
        return self

    def model_post_init(self, context: object) -> None:
        self._version = hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def version(self) -> str:
        return self._version

    # Compiled once: paths, conditions per level, blocking parts ------------------------------------

    @cached_property
    def _compiled(self) -> list[tuple[str, paths.Path, str, list[tuple[str, float, comparators.Condition]], bool]]:
        return [
            (c.name, paths.parse(c.path), c.comparator,
             [(lv.label, lv.log_weight, comparators.condition(c.comparator, lv.when)) for lv in c.levels], c.links_alone)
            for c in self.comparisons
        ]

    @cached_property
    def _position(self) -> dict[str, int]:
        return {c.name: i for i, c in enumerate(self.comparisons)}

    # The matcher's interface (shared with the built-in rules, see rules.MatchRules) ---------------

    def extract(self, patient: dict[str, Any]) -> FieldFeatures:
        return FieldFeatures(tuple(
            comparators.prepare(comparator, path.values(patient))[:10] for _, path, comparator, _, _ in self._compiled
        ))

    def load_features(self, text: str) -> FieldFeatures | None:
        """Features stored under these rules; None for another rules file's (re-extracted on re-match)."""
        if not text.startswith("{"):
            return None
        stored = json.loads(text).get("fields", {})
        if stored.get("@rules") != self._fields_signature:
            return None
        return FieldFeatures(tuple(tuple(stored.get(c.name, ())) for c in self.comparisons))

    def dump_features(self, f: Any) -> str:  # FieldFeatures (features are opaque to the matcher)
        fields: dict[str, Any] = {c.name: list(v) for c, v in zip(self.comparisons, f.values, strict=True) if v}
        fields["@rules"] = self._fields_signature
        return json.dumps({"fields": fields}, ensure_ascii=False, separators=(",", ":"))

    @cached_property
    def _fields_signature(self) -> str:
        """What extraction depends on (names, paths, comparators): weights may change and features stay."""
        what = [(c.name, c.path, c.comparator) for c in self.comparisons]
        return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:8]

    def keys(self, f: Any) -> tuple[str, ...]:
        found: list[str] = []
        for number, key in enumerate(self.blocking):
            options: list[list[str]] = []
            for part in key:
                name, _, transform = (s.strip() for s in part.partition("|"))
                values = {_TRANSFORMS[transform or "value"](v) for v in f.values[self._position[name]]}
                options.append(sorted(v for v in values if v))
            for combination in list(product(*options))[:10]:
                found.append(f"{number}:" + "|".join(combination))
        for (name, _, _, _, alone), values in zip(self._compiled, f.values, strict=True):
            if alone:  # equal values link alone, so they must meet
                found.extend(f"{name}={v}" for v in values)
        return tuple(dict.fromkeys(k[:120] for k in found))

    def levels(self, a: FieldFeatures, b: FieldFeatures) -> tuple[int | None, ...]:
        """The level each comparison reaches (its index; None when a side has no value): the
        comparison vector that scoring and estimation read."""
        found: list[int | None] = []
        for (_, _, _, levels, _), xs, ys in zip(self._compiled, a.values, b.values, strict=True):
            reached: int | None = None
            if xs and ys:
                for index, (_, _, holds) in enumerate(levels):
                    if any(holds(x, y) for x in xs for y in ys):
                        reached = index
                        break
            found.append(reached)
        return tuple(found)

    def compare(self, a: Any, b: Any) -> Score:
        parts: list[Part] = []
        certain = False
        for (name, _, _, levels, alone), reached in zip(self._compiled, self.levels(a, b), strict=True):
            if reached is None:
                continue
            label, weight, _ = levels[reached]
            parts.append(Part(name, label, weight))
            certain = certain or (alone and reached == 0)
        return Score(round(sum(p.weight for p in parts), 3), tuple(parts), certain)


class FieldFeatures:
    """Prepared values per comparison, in the rules' order (hashable: blocking keys are cached)."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[tuple[str, ...], ...]) -> None:
        self.values = values

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldFeatures) and other.values == self.values

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        return f"FieldFeatures({self.values!r})"
