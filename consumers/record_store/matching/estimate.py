"""Estimating the weights of field rules from unlabelled records, as Splink does.

u (how often a level is reached by two different people) is counted on random pairs of records,
which are almost all different people. m (how often it is reached by two records of one person)
and the share of true matches among blocked pairs are then found by expectation-maximisation
over the blocked pairs, with u held fixed. Pairs are reduced to their comparison vectors (the
level each comparison reaches) and counted, so each round is over distinct vectors, not pairs.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from consumers.record_store.matching.field_rules import FieldFeatures, FieldRules
from consumers.record_store.matching.rules import load_rules

Vector = tuple[int | None, ...]
_FLOOR = 1e-5  # no probability is estimated as zero: a level never seen still has a finite weight


@dataclass(frozen=True)
class Estimate:
    m: list[list[float]]  # per comparison, per level
    u: list[list[float]]
    match_share: float  # λ: the share of blocked pairs that are one person
    iterations: int
    pairs: int


def expectation_maximisation(
    vectors: Counter[Vector], levels: Sequence[int], m: list[list[float]], u: list[list[float]],
    match_share: float = 0.1, fix_u: bool = True, iterations: int = 200, tolerance: float = 1e-7,
) -> Estimate:
    """m (and u unless fixed) per comparison level, and λ, from counted comparison vectors.
    `levels` is the number of levels of each comparison; None in a vector means not compared."""
    m = [list(row) for row in m]
    u = [list(row) for row in u]
    total = sum(vectors.values())
    done = 0
    while done < iterations:
        done += 1
        m_counts = [[0.0] * n for n in levels]
        u_counts = [[0.0] * n for n in levels]
        matches = 0.0
        for vector, count in vectors.items():
            pm, pu = match_share, 1.0 - match_share
            for k, level in enumerate(vector):
                if level is not None:
                    pm *= m[k][level]
                    pu *= u[k][level]
            weight = pm / (pm + pu) if pm + pu > 0 else 0.0
            matches += weight * count
            for k, level in enumerate(vector):
                if level is not None:
                    m_counts[k][level] += weight * count
                    u_counts[k][level] += (1 - weight) * count
        new_m = [_normalised(row) for row in m_counts]
        new_u = u if fix_u else [_normalised(row) for row in u_counts]
        new_share = min(max(matches / total, _FLOOR), 1 - _FLOOR) if total else match_share
        change = max(abs(a - b) for old, new in zip(m + u, new_m + new_u, strict=True) for a, b in zip(old, new, strict=True))
        change = max(change, abs(new_share - match_share))
        m, u, match_share = new_m, new_u, new_share
        if change < tolerance:
            break
    return Estimate(m, u, match_share, done, total)


def _normalised(row: list[float]) -> list[float]:
    total = sum(row)
    if total <= 0:
        return [1 / len(row)] * len(row)
    floored = [max(x / total, _FLOOR) for x in row]
    scale = sum(floored)
    return [x / scale for x in floored]


def blocked_pairs(rules: FieldRules, records: Sequence[FieldFeatures], max_pairs: int, rng: random.Random) -> list[tuple[int, int]]:
    """Pairs of records sharing a blocking key (blocks above max_block_size skipped), at most max_pairs."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(records):
        for key in rules.keys(f):
            blocks[key].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) > rules.thresholds.max_block_size:
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pairs.add((members[x], members[y]))
    ordered = sorted(pairs)
    return rng.sample(ordered, max_pairs) if len(ordered) > max_pairs else ordered


def estimate(rules: FieldRules, patients: Sequence[dict[str, Any]], max_pairs: int = 200_000,
             random_pairs: int = 100_000, seed: int = 1) -> Estimate:
    rng = random.Random(seed)
    records = [rules.extract(p) for p in patients]
    levels = [len(c.levels) for c in rules.comparisons]
    if len(records) < 2:
        raise ValueError("estimation needs at least two records")
    unrelated: Counter[Vector] = Counter()
    for _ in range(random_pairs):
        a, b = rng.sample(range(len(records)), 2)
        unrelated[rules.levels(records[a], records[b])] += 1
    u = [_normalised([sum(c for v, c in unrelated.items() if v[k] == level) + 1.0 for level in range(n)])
         for k, n in enumerate(levels)]
    # m starts at the rules' own belief (m = u * 2^weight): EM finds a local optimum, and starting
    # near the rules keeps households (sharing surname, address and phone) on the side of two people.
    m = [_normalised([u[k][i] * 2.0 ** level.log_weight for i, level in enumerate(c.levels)])
         for k, c in enumerate(rules.comparisons)]
    vectors = Counter(rules.levels(records[a], records[b]) for a, b in blocked_pairs(rules, records, max_pairs, rng))
    if not vectors:
        raise ValueError("no two records share a blocking key: nothing to estimate from")
    return expectation_maximisation(vectors, levels, m, u, match_share=0.1, fix_u=True)


def table(rules: FieldRules, found: Estimate) -> str:
    """m, u and the weight per comparison level, for a person to read before adopting them."""
    lines = [f"estimated from {found.pairs} blocked pairs in {found.iterations} rounds; "
             f"share of pairs that are one person {found.match_share:.4f}",
             f"{'comparison':<14} {'level':<28} {'m':>9} {'u':>9} {'weight':>8} {'was':>8}"]
    for k, comparison in enumerate(rules.comparisons):
        for i, level in enumerate(comparison.levels):
            weight = math.log2(found.m[k][i] / found.u[k][i])
            lines.append(f"{comparison.name:<14} {level.label:<28} {found.m[k][i]:>9.5f} {found.u[k][i]:>9.5f} "
                         f"{weight:>+8.2f} {level.log_weight:>+8.2f}")
    return "\n".join(lines)


def write_rules(source: Path, rules: FieldRules, found: Estimate, target: Path, note: str) -> FieldRules:
    """A new rules file: the source's with m and u for every level; thresholds and blocking kept."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    for k, comparison in enumerate(raw["comparisons"]):
        for i, level in enumerate(comparison["levels"]):
            level.pop("weight", None)
            level["m"] = float(f"{found.m[k][i]:.6g}")
            level["u"] = float(f"{found.u[k][i]:.6g}")
    header = (f"# Estimated by `hub mpi estimate` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from {note}\n"
              f"# ({found.pairs} blocked pairs, {found.iterations} rounds of EM) from the rules in {source}.\n"
              "# Read the weights before adopting: point HUB_MATCH_RULES at this file.\n")
    target.write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    adopted = load_rules(target)
    assert isinstance(adopted, FieldRules)
    return adopted
