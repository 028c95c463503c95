"""The critical-value rules (rules.yaml): limits per analyte, how a result's code and unit are recognised,
acknowledgement times and the county duty doctors. Loaded once at start; a mistake is one line naming
the file, the entry and the problem.

Pure: `Rules.check(observation)` says whether a lab value is critical, not critical, or could not be
compared (an unknown unit is never guessed at).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from hub.core.errors import PermanentError

HERE = Path(__file__).resolve().parent
DEFAULT_RULES = HERE / "rules.yaml"
LOINC = "http://loinc.org"
LOCAL_SYSTEM = re.compile(r"^urn:hub:facility:[^:]+:")


class CriticalRulesError(PermanentError, ValueError):
    """The rules file cannot be used."""


def unit_key(unit: str | None) -> str:
    """A unit as compared: case, spaces and the many spellings of 10^9 and micro set aside
    ("×10^9/L", "10E9/l", "109/L" and "10*9/L" are one unit)."""
    text = (unit or "").strip().replace(" ", "").replace("µ", "u").replace("μ", "u").replace("×", "x").lower()
    return re.sub(r"^x?10(?:\^|\*|e)?(\d+)", r"10*\1", text)


def name_key(name: str | None) -> str:
    return re.sub(r"\s+", "", name or "").lower()


@dataclass(frozen=True)
class DutyDoctor:
    name: str
    role: str
    phone: str


@dataclass(frozen=True)
class Analyte:
    key: str
    name: str
    loinc: tuple[str, ...]
    local: tuple[str, ...]
    names: tuple[str, ...]
    unit: str
    convert: dict[str, float]  # unit_key -> factor into `unit`
    below: float | None
    above: float | None
    ack_s: float | None

    def factor(self, unit: str | None) -> float | None:
        """How to turn a value in `unit` into this analyte's unit; None when it cannot be."""
        return self.convert.get(unit_key(unit))

    def limits_text(self) -> str:
        parts = []
        if self.below is not None:
            parts.append(f"<{_number(self.below)}")
        if self.above is not None:
            parts.append(f">{_number(self.above)}")
        return " 或 ".join(parts) + f" {self.unit}"


Verdict = Literal["critical", "normal", "unchecked"]


@dataclass(frozen=True)
class Check:
    """What the rules say of one value."""

    verdict: Verdict
    analyte: Analyte
    value: float | None = None  # in the analyte's unit
    direction: Literal["high", "low"] | None = None
    limit: float | None = None  # the limit it passed
    reason: str = ""  # for an unchecked value: why


@dataclass(frozen=True)
class Rules:
    analytes: tuple[Analyte, ...]
    duty_doctors: tuple[DutyDoctor, ...]
    level2_after_s: float | None
    check_every_s: float
    source: str

    def analyte_for(self, code: dict[str, Any] | None) -> Analyte | None:
        """The analyte an Observation.code names: by LOINC, by a member's local code, then by name."""
        if not isinstance(code, dict):
            return None
        codings = [c for c in code.get("coding") or [] if isinstance(c, dict)]
        for coding in codings:
            system, value = str(coding.get("system") or ""), str(coding.get("code") or "")
            for analyte in self.analytes:
                if system == LOINC and value in analyte.loinc:
                    return analyte
                if (not system or LOCAL_SYSTEM.match(system)) and value in analyte.local:
                    return analyte
        names = {name_key(c.get("display")) for c in codings} | {name_key(code.get("text"))}
        names.discard("")
        for analyte in self.analytes:
            if names & {name_key(n) for n in analyte.names}:
                return analyte
        return None

    def check(self, observation: dict[str, Any]) -> Check | None:
        """The verdict on a lab Observation's value; None when no rule covers its code or it has no number."""
        analyte = self.analyte_for(observation.get("code"))
        quantity = observation.get("valueQuantity")
        if analyte is None or not isinstance(quantity, dict):
            return None
        raw = quantity.get("value")
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            return None
        unit = quantity.get("code") or quantity.get("unit")
        factor = analyte.factor(unit)
        if factor is None:
            shown = unit if unit else "(none)"
            return Check("unchecked", analyte, reason=f"unit {shown!r} cannot be converted to {analyte.unit} "
                         f"(add it to {analyte.key}.convert in the critical-value rules)")
        value = raw * factor
        if analyte.below is not None and value < analyte.below:
            return Check("critical", analyte, value, "low", analyte.below)
        if analyte.above is not None and value > analyte.above:
            return Check("critical", analyte, value, "high", analyte.above)
        return Check("normal", analyte, value)


def _number(value: float) -> str:
    return f"{value:g}"


# Loading ------------------------------------------------------------------------------------------------

_ANALYTE_KEYS = {"key", "name", "loinc", "local", "names", "unit", "convert", "below", "above", "ack_s"}


def load_rules(path: Path | None = None) -> Rules:
    """The rules in `path` (default: the shipped rules.yaml), checked; CriticalRulesError names the mistake."""
    source = Path(path) if path is not None else DEFAULT_RULES
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CriticalRulesError(f"critical-value rules {source}: cannot be read ({exc.strerror or exc}); "
                                 "check HUB_CRITICAL_RULES") from None
    except yaml.YAMLError as exc:
        raise CriticalRulesError(f"critical-value rules {source}: not valid YAML ({_first_line(exc)})") from None
    return parse_rules(data, str(source))


def parse_rules(data: Any, source: str = "rules") -> Rules:
    def fail(where: str, problem: str) -> CriticalRulesError:
        return CriticalRulesError(f"critical-value rules {source}: {where}: {problem}")

    if not isinstance(data, dict):
        raise fail("the file", "must be a mapping with 'analytes' and 'escalation'")
    unknown = sorted(set(data) - {"analytes", "escalation"})
    if unknown:
        raise fail(unknown[0], "unknown section; expected 'analytes' and 'escalation'")
    entries = data.get("analytes")
    if not isinstance(entries, list) or not entries:
        raise fail("analytes", "must be a non-empty list")
    analytes: list[Analyte] = []
    seen: dict[str, str] = {}  # loinc / local code / name -> analyte key, so no code means two things
    for index, entry in enumerate(entries):
        where = f"analytes[{index}]"
        if not isinstance(entry, dict):
            raise fail(where, "must be a mapping")
        where = f"analytes[{index}] ({entry.get('key', '?')})"
        extra = sorted(set(entry) - _ANALYTE_KEYS)
        if extra:
            raise fail(where, f"unknown field {extra[0]!r}; fields: {', '.join(sorted(_ANALYTE_KEYS))}")
        analyte = _analyte(entry, where, fail)
        for kind, values in (("loinc", analyte.loinc), ("local", analyte.local),
                             ("names", tuple(name_key(n) for n in analyte.names))):
            for value in values:
                other = seen.get(f"{kind}:{value}")
                if other is not None:
                    raise fail(where, f"{kind} {value!r} is also listed under {other}")
                seen[f"{kind}:{value}"] = analyte.key
        if analyte.key in {a.key for a in analytes}:
            raise fail(where, f"key {analyte.key!r} is used twice")
        analytes.append(analyte)
    escalation = data.get("escalation") or {}
    if not isinstance(escalation, dict):
        raise fail("escalation", "must be a mapping")
    extra = sorted(set(escalation) - {"level2_after_s", "check_every_s", "duty_doctors"})
    if extra:
        raise fail(f"escalation.{extra[0]}", "unknown field; fields: level2_after_s, check_every_s, duty_doctors")
    level2 = escalation.get("level2_after_s")
    if level2 is not None:
        level2 = _positive(level2, "escalation.level2_after_s", fail)
    every = _positive(escalation.get("check_every_s", 5), "escalation.check_every_s", fail)
    doctors = escalation.get("duty_doctors") or []
    if not isinstance(doctors, list) or not doctors:
        raise fail("escalation.duty_doctors", "must list at least one duty doctor (name, role, phone): level 2 "
                   "calls them")
    duty = []
    for index, doctor in enumerate(doctors):
        where = f"escalation.duty_doctors[{index}]"
        if not isinstance(doctor, dict) or not str(doctor.get("name") or "").strip():
            raise fail(where, "needs at least a name (and role, phone)")
        duty.append(DutyDoctor(str(doctor["name"]).strip(), str(doctor.get("role") or "").strip(),
                               str(doctor.get("phone") or "").strip()))
    return Rules(tuple(analytes), tuple(duty), level2, every, source)


def _analyte(entry: dict[str, Any], where: str, fail: Any) -> Analyte:
    key, name, unit = entry.get("key"), entry.get("name"), entry.get("unit")
    if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", key):
        raise fail(where, "key must be 1-32 lower-case letters, digits or _")
    if not isinstance(name, str) or not name.strip():
        raise fail(where, "name is required (the Chinese name the notice uses)")
    if not isinstance(unit, str):
        raise fail(where, "unit is required (the unit the limits are in; \"1\" for a ratio)")
    lists = {}
    for field_name in ("loinc", "local", "names"):
        value = entry.get(field_name) or []
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            raise fail(where, f"{field_name} must be a list of codes or names")
        lists[field_name] = tuple(str(v) for v in value)
    if not (lists["loinc"] or lists["local"] or lists["names"]):
        raise fail(where, "needs at least one of loinc, local or names, or no result can match it")
    convert_raw = entry.get("convert") or {}
    if not isinstance(convert_raw, dict):
        raise fail(where, "convert must map units to factors, e.g. {mg/dL: 0.0555}")
    convert = {unit_key(unit): 1.0}
    for other, factor in convert_raw.items():
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 0:
            raise fail(where, f"convert factor for {other!r} must be a positive number, not {factor!r}")
        convert[unit_key(str(other))] = float(factor)
    below = _limit(entry.get("below"), where, "below", fail)
    above = _limit(entry.get("above"), where, "above", fail)
    if below is None and above is None:
        raise fail(where, "needs below, above or both")
    if below is not None and above is not None and not below < above:
        raise fail(where, f"below ({_number(below)}) must be less than above ({_number(above)})")
    ack = entry.get("ack_s")
    return Analyte(key, name.strip(), lists["loinc"], lists["local"], lists["names"], unit, convert, below, above,
                   _positive(ack, f"{where}.ack_s", fail) if ack is not None else None)


def _limit(value: Any, where: str, name: str, fail: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(where, f"{name} must be a number, not {value!r}")
    return float(value)


def _positive(value: Any, where: str, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise fail(where, f"must be a positive number of seconds, not {value!r}")
    return float(value)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
