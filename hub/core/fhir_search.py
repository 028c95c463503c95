"""FHIR search parameter values every search shares: date prefixes and the errors a search raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_

from hub.core.errors import PermanentError
from hub.core.fhir_fields import parse_fhir_datetime

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


class SearchError(PermanentError, ValueError):
    """A search parameter the hub cannot honour; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def date_range(param: str, raw: str) -> tuple[str, datetime, datetime]:
    """A FHIR date parameter with optional prefix -> (prefix, start, end) of its precision."""
    prefix = raw[:2] if raw[:2] in PREFIXES else "eq"
    value = raw[2:] if raw[:2] in PREFIXES else raw
    parsed = parse_fhir_datetime(value)
    if parsed is None:
        raise SearchError(param, f"{param}: {raw!r} is not a FHIR date or dateTime")
    start = parsed.astimezone(ZoneInfo("Asia/Shanghai"))  # calendar periods are China's days and months
    if len(value) == 4:
        end = start.replace(year=start.year + 1)
    elif len(value) == 7:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    elif len(value) == 10:
        end = start + timedelta(days=1)
    else:
        end = start + timedelta(seconds=1)
    return prefix, start.astimezone(UTC), end.astimezone(UTC)


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
    raise SearchError("date", f"unsupported prefix {prefix}")
