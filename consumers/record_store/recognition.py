"""Mutual recognition of results (检查检验结果互认): the rules file and the query over the shared record.

A result from another member is recognised when its test is listed and still inside its validity
window, its laboratory is on the community's accredited list, and it is final.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import yaml
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consumers.record_store.models import StoredResource
from consumers.record_store.queries import community_id_for, members_of
from hub.core.errors import PermanentError

DEFAULT_RULES = Path(__file__).with_name("recognition.yaml")
RESULT_TYPES = ("Observation", "DiagnosticReport", "ImagingStudy")
# Statuses a clinician may rely on; "available" is an ImagingStudy's equivalent of final.
FINAL = frozenset({"final", "amended", "corrected", "appended", "available"})
# Not results at all (withdrawn or deleted at the source): never listed.
VOID = ("entered-in-error", "cancelled")
MAX_DAYS = 36_500  # a century: larger numbers are typos, and would overflow date arithmetic
_FACILITY = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_CODE = re.compile(r"^[^\s|]+\|[^\s|]+$")
_KEYS = {"facilities", "unlisted", "tests"}
_TEST_KEYS = {"code", "name", "days"}
_UNLISTED_KEYS = {"days", "recognised"}


class RecognitionRulesError(PermanentError, ValueError):
    """A rules file the hub cannot use; the message names the file and the entry."""


@dataclass(frozen=True)
class TestRule:
    system: str
    code: str
    name: str
    days: int


@dataclass(frozen=True)
class RecognitionRules:
    source: Path
    facilities: frozenset[str]
    tests: Mapping[tuple[str, str], TestRule]
    unlisted_days: int = 7
    recognise_unlisted: bool = False

    @property
    def max_days(self) -> int:
        """The longest window: older results cannot matter, so the query never reads them."""
        return max([self.unlisted_days, *(t.days for t in self.tests.values())])

    def rule_for(self, pairs: list[tuple[str, str]]) -> TestRule | None:
        return next((self.tests[p] for p in pairs if p in self.tests), None)


# Loading ------------------------------------------------------------------------------------------


def load_rules(path: Path | None = None) -> RecognitionRules:
    """Reads and checks a rules file (default: the one beside this module)."""
    source = Path(path) if path is not None else DEFAULT_RULES
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecognitionRulesError(
            f"cannot read recognition rules {source}: {exc.strerror or exc}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        _fail(source, where, f"not valid YAML ({problem})")
    if not isinstance(data, dict):
        _fail(source, "file", "must be a mapping with facilities, unlisted and tests")
    _known_keys(source, "file", data, _KEYS)
    for key in ("facilities", "tests"):
        if key not in data:
            _fail(source, "file", f"{key} is missing")
    facilities = _facilities(source, data["facilities"])
    unlisted = data.get("unlisted") or {}
    if not isinstance(unlisted, dict):
        _fail(source, "unlisted", "must be a mapping with days and recognised")
    _known_keys(source, "unlisted", unlisted, _UNLISTED_KEYS)
    recognise_unlisted = unlisted.get("recognised", False)
    if not isinstance(recognise_unlisted, bool):
        _fail(source, "unlisted", f"recognised must be true or false, not {recognise_unlisted!r}")
    return RecognitionRules(
        source=source,
        facilities=facilities,
        tests=MappingProxyType(_tests(source, data["tests"])),
        unlisted_days=_days(source, "unlisted", unlisted.get("days", 7)),
        recognise_unlisted=recognise_unlisted,
    )


def _fail(source: Path, entry: str, problem: str) -> NoReturn:
    raise RecognitionRulesError(f"recognition rules {source}: {entry}: {problem}")


def _known_keys(source: Path, entry: str, data: dict[Any, Any], allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        _fail(source, entry, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")


def _days(source: Path, entry: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        _fail(source, entry, f"days must be a whole number from 0 to {MAX_DAYS}, not {value!r}")
    return value


def _facilities(source: Path, value: Any) -> frozenset[str]:
    if not isinstance(value, list):
        _fail(source, "facilities", "must be a list of facility ids")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _FACILITY.match(item):
            _fail(source, f"facilities[{i}]", f"{item!r} is not a facility id (letters, digits, - and _)")
    return frozenset(value)


def _tests(source: Path, value: Any) -> dict[tuple[str, str], TestRule]:
    if not isinstance(value, list):
        _fail(source, "tests", "must be a list of {code, name, days}")
    rules: dict[tuple[str, str], TestRule] = {}
    for i, item in enumerate(value):
        entry = f"tests[{i}]"
        if not isinstance(item, dict):
            _fail(source, entry, "must be a mapping with code, name and days")
        if isinstance(item.get("code"), str):
            entry += f" ({item['code']})"
        _known_keys(source, entry, item, _TEST_KEYS)
        code = item.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            _fail(source, entry, f"code must be 'system|code' (e.g. http://loinc.org|2345-7), not {code!r}")
        system, _, local = code.partition("|")
        if (system, local) in rules:
            _fail(source, entry, "the code is listed twice")
        if "days" not in item:
            _fail(source, entry, "days is missing")
        name = item.get("name", local)
        rules[(system, local)] = TestRule(system, local, str(name), _days(source, entry, item["days"]))
    return rules


# The query ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultItem:
    """One result of another member, as the recognition list shows it."""

    resource_type: str
    id: str
    code: str | None  # "system|code"
    display: str | None
    value: float | int | str | bool | None
    unit: str | None
    date: datetime
    facility_id: str | None
    status: str | None
    valid_until: datetime
    recognised: bool
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["date"], body["valid_until"] = self.date.isoformat(), self.valid_until.isoformat()
        return body


def recognised_results(
    session: Session, rules: RecognitionRules, patient_id: str, requesting_facility: str, at: datetime
) -> list[ResultItem] | None:
    """Results of other members still inside their window at `at`, newest first.

    None when no community patient is behind `patient_id` (a golden or source Patient id).
    Results dated after `at` are left out: they did not exist at that moment.
    """
    if at.tzinfo is None:
        raise ValueError("at must carry a timezone")
    at = at.astimezone(UTC)
    community = community_id_for(session, patient_id)
    if community is None:
        return None
    keys = [key for key, _ in members_of(session, community)]
    if not keys:
        return []
    # Indexed filters (patient key, type, date) keep a patient with years of results cheap.
    rows = session.scalars(
        select(StoredResource)
        .where(
            StoredResource.patient_key.in_(keys),
            StoredResource.resource_type.in_(RESULT_TYPES),
            StoredResource.facility_id != requesting_facility,
            StoredResource.date >= at - timedelta(days=rules.max_days),
            StoredResource.date <= at,
            or_(StoredResource.status.is_(None), StoredResource.status.not_in(VOID)),
        )
        .order_by(StoredResource.date.desc(), StoredResource.resource_type, StoredResource.id)
    ).all()
    items = (_item(row, rules, at) for row in rows)
    return [item for item in items if item is not None]


def _item(row: StoredResource, rules: RecognitionRules, at: datetime) -> ResultItem | None:
    resource = json.loads(row.content)
    value, unit = _value(resource)
    if row.resource_type == "Observation" and value is None:
        return None  # a panel header or a test not done: nothing to recognise
    assert row.date is not None  # the query filters on it
    pairs, displays = _codings(resource)
    rule = rules.rule_for(pairs)
    valid_until = row.date + timedelta(days=rule.days if rule else rules.unlisted_days)
    if valid_until < at:
        return None
    reasons = []
    if rule is None and not rules.recognise_unlisted:
        reasons.append("test not on the community's recognition list")
    if row.facility_id not in rules.facilities:
        reasons.append("laboratory not on the community list")
    if row.status not in FINAL:
        reasons.append(f"result not final (status {row.status or 'unknown'})")
    shown = (rule.system, rule.code) if rule else (pairs[0] if pairs else None)
    display = (displays.get(shown) if shown else None) or _text(resource) or (rule.name if rule else None)
    return ResultItem(
        resource_type=row.resource_type,
        id=row.id,
        code=f"{shown[0]}|{shown[1]}" if shown else None,
        display=display,
        value=value,
        unit=unit,
        date=row.date,
        facility_id=row.facility_id,
        status=row.status,
        valid_until=valid_until,
        recognised=not reasons,
        reason="; ".join(reasons) or None,
    )


def _codings(resource: dict[str, Any]) -> tuple[list[tuple[str, str]], dict[tuple[str, str], str]]:
    """The codings that name the test: `code`, or an ImagingStudy's modalities."""
    if resource.get("resourceType") == "ImagingStudy":
        found = list(resource.get("modality") or [])
        found += [s.get("modality") for s in resource.get("series") or [] if isinstance(s, dict)]
    else:
        code = resource.get("code")
        found = list(code.get("coding") or []) if isinstance(code, dict) else []
    pairs: list[tuple[str, str]] = []
    displays: dict[tuple[str, str], str] = {}
    for coding in found:
        if isinstance(coding, dict) and coding.get("code"):
            pair = (str(coding.get("system") or ""), str(coding["code"]))
            if pair not in pairs:
                pairs.append(pair)
            if coding.get("display"):
                displays.setdefault(pair, str(coding["display"]))
    return pairs, displays


def _text(resource: dict[str, Any]) -> str | None:
    code = resource.get("code")
    text = code.get("text") if isinstance(code, dict) else None
    return text or resource.get("description") or None


def _value(resource: dict[str, Any]) -> tuple[float | int | str | bool | None, str | None]:
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and quantity.get("value") is not None:
        return quantity["value"], quantity.get("unit") or quantity.get("code")
    concept = resource.get("valueCodeableConcept")
    if isinstance(concept, dict):
        coding: dict[str, Any] = next(iter(concept.get("coding") or []), {})
        return concept.get("text") or coding.get("display") or coding.get("code"), None
    for key in ("valueString", "valueInteger", "valueBoolean", "valueDateTime"):
        if resource.get(key) is not None:
            return resource[key], None
    return None, None
