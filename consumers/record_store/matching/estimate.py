"""Estimating the weights of field rules from unlabelled records, as Splink does.

u (how often a level is reached by two different people) is counted on random pairs of records,
which are almost all different people. m (how often it is reached by two records of one person)
is found by expectation-maximisation with u held fixed, once per blocking key: each run learns
from the pairs sharing that key and leaves out the comparisons the key is made of (all its pairs
agree on them, so they would only pull households, who share surname, address and phone, into the
match class). A comparison's m is the average over the runs where it was free. Each run's share of
one-person pairs is counted, not estimated (the share agreeing on an identifier that links alone)
and held; such a run also learns the block's own u, since households make agreeing on surname,
address and phone commoner within a block than between random records (only m is kept from it). Pairs are reduced to their comparison vectors (the
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
    prior: float | None = None  # chance that two random records are one person (deterministic count)
    runs: tuple[Run, ...] = ()  # one EM run per blocking key


@dataclass(frozen=True)
class Run:
    key: str  # the blocking key, as written in the rules
    pairs: int
    iterations: int
    match_share: float
    free: tuple[str, ...]  # the comparisons whose m this run estimated


def expectation_maximisation(
    vectors: Counter[Vector], levels: Sequence[int], m: list[list[float]], u: list[list[float]],
    match_share: float = 0.1, fix_u: bool = True, iterations: int = 200, tolerance: float = 1e-7,
    free: Sequence[bool] | None = None, fix_share: bool = False, fix_m: bool = False,
) -> Estimate:
    """m (and u unless fixed) per comparison level, and λ, from counted comparison vectors.
    `levels` is the number of levels of each comparison; None in a vector means not compared.
    A comparison not `free` is left out of the likelihood and keeps its m and u (a blocking key's
    own comparisons); `fix_share` keeps λ, `fix_m` keeps m. Stops when nothing moves by `tolerance`, or after
    `iterations` rounds."""
    estimated = [True] * len(levels) if free is None else list(free)
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
                if level is not None and estimated[k]:
                    pm *= m[k][level]
                    pu *= u[k][level]
            weight = pm / (pm + pu) if pm + pu > 0 else 0.0
            matches += weight * count
            for k, level in enumerate(vector):
                if level is not None and estimated[k]:
                    m_counts[k][level] += weight * count
                    u_counts[k][level] += (1 - weight) * count
        new_m = m if fix_m else [_normalised(row) if estimated[k] else m[k] for k, row in enumerate(m_counts)]
        new_u = u if fix_u else [_normalised(row) if estimated[k] else u[k] for k, row in enumerate(u_counts)]
        new_share = match_share if fix_share or not total else min(max(matches / total, _FLOOR), 1 - _FLOOR)
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


def blocked_pairs(rules: FieldRules, records: Sequence[FieldFeatures], max_pairs: int,
                  rng: random.Random) -> dict[str, list[tuple[int, int]]]:
    """Pairs of records sharing a key, per blocking key of the rules (an identifier that links
    alone is a key of its own); blocks above max_block_size skipped, at most max_pairs per key."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(records):
        for key in rules.keys(f):
            blocks[key].append(i)
    pairs: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for key, members in blocks.items():
        if len(members) > rules.thresholds.max_block_size:
            continue
        found = pairs[_rule_of(key)]
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                found.add((members[x], members[y]))
    return {rule: rng.sample(sorted(found), max_pairs) if len(found) > max_pairs else sorted(found)
            for rule, found in pairs.items() if found}


def _rule_of(key: str) -> str:
    """The rule a key comes from: `3:...` from blocking key 3, `insurance=...` from a comparison linking alone."""
    return key.split(":", 1)[0] if key[0].isdigit() else key.split("=", 1)[0]


def _uses(rules: FieldRules, rule: str) -> tuple[str, set[str]]:
    """How a rule is written and the comparisons it is made of."""
    if rule.isdigit():
        parts = rules.blocking[int(rule)]
        return ", ".join(parts), {p.partition("|")[0].strip() for p in parts}
    return f"{rule} (links alone)", {rule}


def deterministic_prior(rules: FieldRules, records: Sequence[FieldFeatures]) -> float | None:
    """The share of pairs, among those where both records have one, that agree on an identifier
    linking alone: the chance that two random records are one person, counted rather than left
    to EM (which, on blocked pairs, takes households for one person). None without such an identifier."""
    shares: list[float] = []
    for k, comparison in enumerate(rules.comparisons):
        if not comparison.links_alone:
            continue
        having = [f.values[k] for f in records if f.values[k]]
        same = Counter(v for values in having for v in set(values))
        both = len(having) * (len(having) - 1) / 2
        if both:
            shares.append(sum(n * (n - 1) / 2 for n in same.values()) / both)
    return max(min(max(shares), 1 - _FLOOR), _FLOOR) if shares else None


def _agreeing_share(rules: FieldRules, vectors: Counter[Vector]) -> float | None:
    """Among pairs compared on an identifier that links alone, the share agreeing on it (any level
    but the last, so a mistyped digit counts); None when no pair has such an identifier on both sides."""
    alone = [k for k, c in enumerate(rules.comparisons) if c.links_alone]
    compared = agreeing = 0
    for vector, count in vectors.items():
        reached = [(level, len(rules.comparisons[k].levels)) for k in alone if (level := vector[k]) is not None]
        if reached:
            compared += count
            agreeing += count * any(level < n - 1 for level, n in reached)
    return min(max(agreeing / compared, _FLOOR), 1 - _FLOOR) if compared else None


def estimate(rules: FieldRules, patients: Sequence[dict[str, Any]], max_pairs: int = 200_000,
             random_pairs: int = 100_000, seed: int = 1, iterations: int = 200) -> Estimate:
    rng = random.Random(seed)
    records = [rules.extract(p) for p in patients]
    levels = [len(c.levels) for c in rules.comparisons]
    names = [c.name for c in rules.comparisons]
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
    start = [_normalised([u[k][i] * 2.0 ** level.log_weight for i, level in enumerate(c.levels)])
             for k, c in enumerate(rules.comparisons)]
    by_rule = blocked_pairs(rules, records, max_pairs, rng)
    if not by_rule:
        raise ValueError("no two records share a blocking key: nothing to estimate from")
    runs: list[Run] = []
    learnt: list[list[list[float]]] = [[] for _ in levels]  # per comparison, m from each run where it was free
    rounds = 0
    for rule, pairs in by_rule.items():
        written, used = _uses(rules, rule)
        free = [name not in used for name in names]
        if not any(free):
            continue
        vectors = Counter(rules.levels(records[a], records[b]) for a, b in pairs)
        # λ of this run is counted (pairs agreeing on an identifier linking alone) and held: left
        # free, EM raises it towards 1.0 and learns what households share as if it were a person.
        counted = _agreeing_share(rules, vectors)
        found = expectation_maximisation(vectors, levels, start, u, match_share=counted or 0.1, fix_u=counted is None,
                                         iterations=iterations, free=free, fix_share=counted is not None)
        rounds += found.iterations
        runs.append(Run(written, found.pairs, found.iterations, found.match_share,
                        tuple(n for n, f in zip(names, free, strict=True) if f)))
        for k, is_free in enumerate(free):
            if is_free:
                learnt[k].append(found.m[k])
    # A comparison free in no run (every key uses it) keeps the rules' own m.
    m = [_normalised([sum(col) / len(rows) for col in zip(*rows, strict=True)]) if rows else start[k]
         for k, rows in enumerate(learnt)]
    # The share of all blocked pairs that are one person, under the combined m and u (λ alone moves).
    everything = Counter(rules.levels(records[a], records[b])
                         for a, b in sorted({p for pairs in by_rule.values() for p in pairs}))
    share = expectation_maximisation(everything, levels, m, u, match_share=0.1, fix_u=True, fix_m=True,
                                     iterations=iterations).match_share
    return Estimate(m, u, share, rounds, sum(everything.values()), deterministic_prior(rules, records), tuple(runs))


def table(rules: FieldRules, found: Estimate) -> str:
    """m, u and the weight per comparison level, for a person to read before adopting them."""
    prior = "no identifier links alone" if found.prior is None else f"{found.prior:.6f}"
    lines = [f"estimated from {found.pairs} blocked pairs in {found.iterations} rounds; "
             f"share of pairs that are one person {found.match_share:.4f}; "
             f"two random records one person (counted on identifiers linking alone): {prior}"]
    lines += [f"  run on key [{run.key}]: {run.pairs} pairs, {run.iterations} rounds, share one person {run.match_share:.3f}; "
              f"m of {', '.join(run.free)}" for run in found.runs]
    lines.append(f"{'comparison':<14} {'level':<28} {'m':>9} {'u':>9} {'weight':>8} {'was':>8}")
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
