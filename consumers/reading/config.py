"""The reading centres' configuration: turnaround targets per centre and priority, the at-risk share and
the escalation lists, read once from a YAML file (targets.yaml) and checked at start."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import yaml

from hub.core.errors import PermanentError

DEFAULT_TARGETS = Path(__file__).with_name("targets.yaml")
CENTRES = ("ecg", "imaging", "pathology")
PRIORITIES = ("routine", "urgent", "asap", "stat")
CHINA = ZoneInfo("Asia/Shanghai")  # working days are the county's
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|h|d|wd)$")
_KEYS = {"at_risk", "duty_after", "centres"}
_CENTRE_KEYS = {"name_zh", "name_en", "second_reading", "targets", "backup", "duty_expert"}


class ReadingConfigError(PermanentError, ValueError):
    """A targets file the hub cannot use; the message names the file and the entry."""


@dataclass(frozen=True)
class Target:
    """A turnaround target: an amount of minutes, or of working days (Monday to Friday, China time)."""

    amount: float
    unit: str  # m, h, d, wd
    text: str

    def due(self, start: datetime) -> datetime:
        if self.unit != "wd":
            minutes = self.amount * {"m": 1, "h": 60, "d": 1440}[self.unit]
            return start + timedelta(minutes=minutes)
        return add_working_days(start, self.amount)

    def after_share(self, start: datetime, share: float) -> datetime:
        """The moment `share` of the target has passed (the at-risk mark, the duty-expert mark)."""
        return start + (self.due(start) - start) * share


def add_working_days(start: datetime, days: float) -> datetime:
    """`days` working days after `start`: the same clock time that many weekdays later (China time);
    a start on a weekend counts from the next Monday morning."""
    local = start.astimezone(CHINA)
    if local.weekday() >= 5:
        while local.weekday() >= 5:
            local = (local + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    whole, part = int(days), days - int(days)
    while whole > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            whole -= 1
    local += timedelta(hours=24 * part)
    while local.weekday() >= 5:
        local += timedelta(days=1)
    return local.astimezone(start.tzinfo or CHINA)


@dataclass(frozen=True)
class Centre:
    code: str  # ecg, imaging, pathology
    name_zh: str
    name_en: str
    second_reading: bool
    targets: dict[str, Target]  # by priority
    backup: tuple[str, ...]
    duty_expert: str | None

    @property
    def task_code(self) -> str:
        return f"{self.code}-read"


@dataclass(frozen=True)
class ReadingConfig:
    lease_s: float
    at_risk: float
    duty_after: float
    centres: dict[str, Centre]
    source: str

    def centre(self, code: str) -> Centre:
        return self.centres[code]

    def target(self, centre: str, priority: str) -> Target:
        return self.centres[centre].targets[priority if priority in PRIORITIES else "routine"]


def _fail(path: Path, where: str, problem: str) -> NoReturn:
    raise ReadingConfigError(f"reading targets {path}: {where}: {problem}")


def parse_duration(path: Path, where: str, raw: Any) -> Target:
    text = str(raw).strip()
    match = _DURATION.match(text)
    if match is None or float(match[1]) <= 0:
        _fail(path, where, f"{raw!r} is not a duration such as 10m, 24h, 2d or 3wd")
    return Target(float(match[1]), match[2], text)


def _share(path: Path, name: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw < 1:
        _fail(path, name, f"must be a number between 0 and 1, not {raw!r}")
    return float(raw)


def _names(path: Path, where: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(n, str) and n.strip() for n in raw):
        _fail(path, where, "must be a list of reader names")
    return tuple(n.strip() for n in raw)


def _centre(path: Path, code: str, raw: Any) -> Centre:
    if not isinstance(raw, dict):
        _fail(path, f"centres.{code}", "must be a mapping")
    unknown = sorted(set(raw) - _CENTRE_KEYS)
    if unknown:
        _fail(path, f"centres.{code}.{unknown[0]}", f"unknown key; known: {', '.join(sorted(_CENTRE_KEYS))}")
    targets = raw.get("targets")
    if not isinstance(targets, dict):
        _fail(path, f"centres.{code}.targets", "must map each priority (routine, urgent, asap, stat) to a duration")
    extra = sorted(set(targets) - set(PRIORITIES))
    if extra:
        _fail(path, f"centres.{code}.targets.{extra[0]}", f"not a priority; priorities: {', '.join(PRIORITIES)}")
    missing = [p for p in PRIORITIES if p not in targets]
    if missing:
        _fail(path, f"centres.{code}.targets", f"has no target for {missing[0]}")
    second = raw.get("second_reading", False)
    if not isinstance(second, bool):
        _fail(path, f"centres.{code}.second_reading", f"must be true or false, not {second!r}")
    duty = raw.get("duty_expert")
    if duty is not None and not (isinstance(duty, str) and duty.strip()):
        _fail(path, f"centres.{code}.duty_expert", "must be a reader name")
    return Centre(
        code=code,
        name_zh=str(raw.get("name_zh") or code),
        name_en=str(raw.get("name_en") or code),
        second_reading=second,
        targets={p: parse_duration(path, f"centres.{code}.targets.{p}", targets[p]) for p in PRIORITIES},
        backup=_names(path, f"centres.{code}.backup", raw.get("backup")),
        duty_expert=duty.strip() if isinstance(duty, str) else None,
    )


def load_config(path: Path | None, lease_s: float) -> ReadingConfig:
    """The reading configuration from `path` (default: targets.yaml beside this module)."""
    path = Path(path) if path else DEFAULT_TARGETS
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReadingConfigError(f"reading targets {path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ReadingConfigError(f"reading targets {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        _fail(path, "top level", "must be a mapping with at_risk, duty_after and centres")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        _fail(path, unknown[0], f"unknown key; known: {', '.join(sorted(_KEYS))}")
    centres = raw.get("centres")
    if not isinstance(centres, dict) or not centres:
        _fail(path, "centres", "must list the centres (ecg, imaging, pathology)")
    extra = sorted(set(centres) - set(CENTRES))
    if extra:
        _fail(path, f"centres.{extra[0]}", f"unknown centre; centres: {', '.join(CENTRES)}")
    missing = [c for c in CENTRES if c not in centres]
    if missing:
        _fail(path, "centres", f"has no entry for {missing[0]}")
    return ReadingConfig(
        lease_s=lease_s,
        at_risk=_share(path, "at_risk", raw.get("at_risk", 0.8)),
        duty_after=_share(path, "duty_after", raw.get("duty_after", 0.5)),
        centres={code: _centre(path, code, centres[code]) for code in CENTRES},
        source=str(path),
    )
