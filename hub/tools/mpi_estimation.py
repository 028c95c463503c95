"""`hub mpi estimate`: weights of field rules estimated from a county's own unlabelled records."""

from __future__ import annotations

from pathlib import Path

from consumers.record_store.matching import estimate
from consumers.record_store.matching.field_rules import FieldRules
from consumers.record_store.matching.rules import DEFAULT_RULES, load_rules
from hub.tools.labelled_sets import read


def run_estimate(input_file: Path, rules: Path | None, out: Path, max_pairs: int) -> str:
    """Estimates, writes the new rules file and returns what to show; ValueError for what cannot be done."""
    source = rules or DEFAULT_RULES
    loaded = load_rules(source)
    if not isinstance(loaded, FieldRules):
        raise ValueError(f"{source}: estimation needs field rules (a comparisons: list); the built-in rules have fixed fields")
    if out.resolve() == source.resolve():
        raise ValueError("--out must name a new file: the rules in force are never overwritten")
    data = read(input_file, labelled=False)
    found = estimate.estimate(loaded, [e.resource for e in data.events], max_pairs=max_pairs)
    written = estimate.write_rules(source, loaded, found, out, f"{len(data.events)} records of {input_file}")
    return (f"{estimate.table(loaded, found)}\nwrote {out} (rules version {written.version}; in force: {loaded.version}). "
            f"To adopt it, set HUB_MATCH_RULES={out}; links made under the old version are re-matched.")


def rules_version(rules: Path | None) -> str:
    return load_rules(rules).version
