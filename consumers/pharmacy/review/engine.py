"""The rule set and the review: every check run on a prescription in its patient's county-wide context.

`review` never raises for a bad prescription: a drug nobody recognised, or a check that cannot run, is a
finding that holds the prescription for a pharmacist, with the reason. Only a broken rule set raises, at load.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from consumers.pharmacy.review.checks import (
    age,
    allergy,
    dose,
    duplicate,
    interaction,
    pregnancy,
    renal,
    route,
)
from consumers.pharmacy.review.checks.base import Context
from consumers.pharmacy.review.errors import ReviewRulesError
from consumers.pharmacy.review.model import Finding, Medicine, PatientContext, Review, outcome_of
from consumers.pharmacy.review.rules_file import KindReader, ParsedRules, parse_text

RULES_DIR = Path(__file__).resolve().parent / "rules"
ENGINE_SOURCE = "中心药房审方引擎 fail-safe / review engine fail-safe"
CHECKS: dict[str, tuple[KindReader, Callable[[list[Any], Context], list[Finding]]]] = {
    "dose": (dose.READER, dose.check),
    "age": (age.READER, age.check),
    "pregnancy": (pregnancy.READER, pregnancy.check),
    "renal": (renal.READER, renal.check),
    "allergy": (allergy.READER, allergy.check),
    "duplicate": (duplicate.READER, duplicate.check),
    "interaction": (interaction.READER, interaction.check),
    "route": (route.READER, route.check),
}
KINDS = {kind: reader for kind, (reader, _) in CHECKS.items()}


class RuleSet:
    """A checked, versioned set of review rules."""

    def __init__(self, parsed: ParsedRules) -> None:
        self._parsed = parsed
        self.version = parsed.version
        self.settings = parsed.settings
        self._by_kind: dict[str, list[Any]] = {kind: [] for kind in CHECKS}
        for rule in parsed.rules:
            self._by_kind[rule.rule.kind].append(rule)

    @property
    def text(self) -> str:
        """The whole rule text (a folder's files joined with ---), as `from_text` takes it back."""
        return self._parsed.text

    @classmethod
    def load(cls, path: Path) -> RuleSet:
        """The rules in a YAML file, or in every *.yaml of a folder (in name order)."""
        path = Path(path)
        try:
            files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
            texts = [(f, f.read_text(encoding="utf-8")) for f in files]
        except OSError as exc:
            raise ReviewRulesError(f"review rules {path}: cannot be read ({exc.strerror or exc})") from None
        if not texts:
            raise ReviewRulesError(f"review rules {path}: no *.yaml files in the folder")
        starts: list[tuple[int, Path]] = []  # (first line in the joined text, file)
        parts: list[str] = []
        line = 1
        for file, text in texts:
            body = text if text.endswith("\n") else text + "\n"
            body = body if not parts else "---\n" + body
            starts.append((line + (1 if parts else 0), file))
            parts.append(body)
            line += body.count("\n")

        def locate(at: int) -> str:
            start, file = next((s, f) for s, f in reversed(starts) if s <= at) if at >= 1 else starts[0]
            return f"{file}:{max(at - start + 1, 1)}"

        return cls(parse_text("".join(parts), locate, KINDS))

    @classmethod
    def from_text(cls, text: str, origin: str) -> RuleSet:
        """Rules edited by pharmacists (kept in the database): the whole text, checked before it is used."""
        if not isinstance(text, str):
            raise ReviewRulesError(f"review rules {origin}: the rules must be text, not {type(text).__name__}")
        return cls(parse_text(text, lambda line: f"{origin}:{line}", KINDS))

    def rules(self) -> list[dict[str, Any]]:
        """Every rule as data, for the page: id, kind, text, severity, action, source, where, and its own fields."""
        return [{**dict(r.rule.data), "id": r.rule.id, "kind": r.rule.kind,
                 "text": {"zh": r.rule.text_zh, "en": r.rule.text_en}, "severity": r.rule.severity,
                 "action": r.rule.action, "source": r.rule.source, "where": r.rule.where}
                for r in self._parsed.rules]

    def review(self, medicine: Medicine, patient: PatientContext, now: datetime) -> Review:
        findings: list[Finding] = []
        if not medicine.code and not medicine.atc:
            findings.append(Finding(
                "review.unrecognised", "unrecognised", "high", "hold",
                f"药品“{medicine.name}”未能识别（无社区药品编码，也无 ATC 编码），规则无法核对，请药师审核或先完成编码对照",
                f"the drug {medicine.name!r} is not recognised (no community drug code and no ATC code), so no "
                "rule could check it; a pharmacist must review it or map its code first",
                ENGINE_SOURCE, (medicine.reference,) if medicine.reference else ()))
        else:
            context = Context(medicine, patient, now, self.settings)
            for kind, (_, check) in CHECKS.items():
                try:
                    findings += check(self._by_kind[kind], context)
                except Exception as exc:  # a check that cannot run holds the prescription, it never passes it
                    findings.append(Finding(
                        f"review.failsafe.{kind}", "failsafe", "high", "hold",
                        f"{kind} 规则无法执行（{type(exc).__name__}: {exc}），请药师审核",
                        f"the {kind} rules could not run ({type(exc).__name__}: {exc}); a pharmacist must review",
                        ENGINE_SOURCE))
        result = tuple(findings)
        return Review(outcome_of(result), result, self.version)


@cache
def default_rules() -> RuleSet:
    """The shipped rules (consumers/pharmacy/review/rules/*.yaml), loaded once."""
    return RuleSet.load(RULES_DIR)
