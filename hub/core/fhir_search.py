"""FHIR search parameter values every search shares: date prefixes and the errors a search raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_

from hub.core.errors import PermanentError
from hub.core.fhir_fields import parse_fhir_datetime

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


class SearchError(PermanentError, ValueError):
    """A search parameter the hub cannot honour; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def value_range(value: str) -> tuple[datetime, datetime] | None:
    """A FHIR date, dateTime or instant -> [start, end) in UTC of its precision (a year, month, day,
    minute or second); partial dates are China's calendar days and months."""
    parsed = parse_fhir_datetime(value)
    if parsed is None:
        return None
    start = parsed.astimezone(ZoneInfo("Asia/Shanghai"))
    text = value.strip()
    if len(text) == 4:
        end = start.replace(year=start.year + 1)
    elif len(text) == 7:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    elif len(text) == 10:
        end = start + timedelta(days=1)
    elif len(text) <= 16 or text[16] not in ":":  # hh:mm with or without a zone
        end = start + timedelta(minutes=1)
    else:
        end = start + timedelta(seconds=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def date_range(param: str, raw: str) -> tuple[str, datetime, datetime]:
    """A FHIR date parameter with optional prefix -> (prefix, start, end) of its precision."""
    prefix = raw[:2] if raw[:2] in PREFIXES else "eq"
    value = raw[2:] if raw[:2] in PREFIXES else raw
    found = value_range(value)
    if found is None:
        raise SearchError(param, f"{param}: {raw!r} is not a FHIR date or dateTime")
    return prefix, found[0], found[1]


def date_clause(column: Any, prefix: str, start: datetime, end: datetime) -> Any:
    """The SQL condition on `column` for a prefixed date range from `date_range`."""
    match prefix:
        case "eq":
            return and_(column >= start, column < end)
        case "ne":
            return or_(column < start, column >= end)
        case "gt" | "sa":
            return column >= end
        case "ge":
            return column >= start
        case "lt" | "eb":
            return column < start
        case "le":
            return column < end
        case "ap":
            margin = _approximately(start)
            return and_(column >= start - margin, column < end + margin)
    raise SearchError("date", f"unsupported prefix {prefix}")


def range_clause(low: Any, high: Any, prefix: str, start: datetime, end: datetime) -> Any:
    """The SQL condition for a prefixed search range [start, end) against indexed ranges [low, high)
    (an open end is NULL), as the FHIR specification compares ranges."""
    starts_in = and_(low.is_not(None), low >= start)
    ends_in = and_(high.is_not(None), high <= end)
    match prefix:
        case "eq":  # `low < end` is implied; said, it bounds the index range on low
            return and_(starts_in, low < end, ends_in)
        case "ne":
            return or_(low.is_(None), high.is_(None), low < start, high > end)
        case "gt":
            return or_(high.is_(None), high > end)
        case "lt":
            return or_(low.is_(None), low < start)
        case "ge":
            return or_(high.is_(None), high > end, and_(starts_in, ends_in))
        case "le":
            return or_(low.is_(None), low < start, and_(starts_in, ends_in))
        case "sa":
            return and_(low.is_not(None), low >= end)
        case "eb":
            return and_(high.is_not(None), high <= start)
        case "ap":  # within a tenth of the distance from now, at least a day either way
            margin = _approximately(start)
            return and_(or_(low.is_(None), low < end + margin), or_(high.is_(None), high > start - margin))
    raise SearchError("date", f"unsupported prefix {prefix}")


def _approximately(start: datetime) -> timedelta:
    """`ap`: a tenth of the distance from now, at least a day either way (the spec leaves the width to servers)."""
    return max(abs(datetime.now(UTC) - start) / 10, timedelta(days=1))
