"""Sorting and paging that stay correct while data arrives: each next link carries the sort values of the
page's last entry (a keyset cursor), not an offset, so records stored between two pages neither push
entries onto the next page twice nor make the search skip one.

Sort keys are `_sort`'s parameters (`-` for descending), then the id; the default is members' own records
before community records, each newest first (`-_lastUpdated`). A parameter with several values sorts by its smallest; a resource without one sorts
first ascending and last descending.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, cast, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement as Expression

from consumers.record_store.models import ResourceCode, ResourceIdentifier, SearchValue, StoredResource
from consumers.record_store.search.parameters import params_of
from hub.core.db.types import UTCDateTime
from hub.core.fhir_search import SearchError

DEFAULT_SORT = "-_lastUpdated"
_NO_DATE = datetime(1, 1, 2, tzinfo=UTC)  # a missing date sorts before every real one


@dataclass(frozen=True)
class SortKey:
    name: str
    expression: Expression[Any]
    descending: bool
    is_date: bool


def sort_keys(resource_type: str, sort: str | None) -> list[SortKey]:
    known = params_of(resource_type)
    keys: list[SortKey] = []
    if not sort:  # members' own records before the community records built from them
        keys.append(SortKey("_golden", cast(StoredResource.golden, Integer), False, False))  # 0/1 compare anywhere
    for item in (sort or DEFAULT_SORT).split(","):
        item = item.strip()
        name = item.lstrip("-")
        param = known.get(name)
        if param is None or param.where == "person":
            sortable = sorted(n for n, p in known.items() if p.where != "person")
            raise SearchError("_sort", f"_sort: {name!r} is not a sortable parameter of {resource_type}; "
                                       f"sortable: {', '.join(sortable)}")
        is_date = param.kind == "date"
        if param.where == "column":
            expression: Any = getattr(StoredResource, param.column or param.name)
        elif param.where in ("code", "identifier"):
            model: Any = ResourceCode if param.where == "code" else ResourceIdentifier
            column = model.code if param.where == "code" else model.value
            expression = (select(func.min(column)).where(model.resource_type == StoredResource.resource_type,
                                                         model.id == StoredResource.id).scalar_subquery())
        else:
            column = SearchValue.low if is_date else SearchValue.value
            expression = (select(func.min(column)).where(
                SearchValue.resource_type == StoredResource.resource_type, SearchValue.id == StoredResource.id,
                SearchValue.param == name, SearchValue.system.is_distinct_from("pinyin")).scalar_subquery())
        if name != "_id":
            blank = literal(_NO_DATE, UTCDateTime()) if is_date else literal("")
            expression = func.coalesce(expression, blank)
        keys.append(SortKey(name, expression, item.startswith("-"), is_date))
    if not any(k.name == "_id" for k in keys):
        keys.append(SortKey("_id", StoredResource.id.expression, False, False))
    return keys


def order_by(keys: list[SortKey]) -> list[Any]:
    return [k.expression.desc() if k.descending else k.expression.asc() for k in keys]


def after(keys: list[SortKey], values: list[Any]) -> ColumnElement[bool]:
    """Rows after the one whose sort values are `values`, in the keys' order."""
    alternatives = []
    for i, key in enumerate(keys):
        same = [keys[j].expression == values[j] for j in range(i)]
        beyond = key.expression < values[i] if key.descending else key.expression > values[i]
        alternatives.append(and_(*same, beyond))
    return or_(*alternatives)


def encode_cursor(keys: list[SortKey], values: list[Any]) -> str:
    packed = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    text = json.dumps({"s": [k.name for k in keys], "v": packed}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(keys: list[SortKey], cursor: str) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != [k.name for k in keys] or len(data["v"]) != len(keys):
            raise ValueError("the cursor belongs to another sort order")
        values = [datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in data["v"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SearchError("_cursor", f"_cursor is not a cursor this search gave out ({exc})") from None
    for key, value in zip(keys, values, strict=True):
        expected = int if key.name == "_golden" else datetime if key.is_date else str
        if not isinstance(value, expected) and not (value is None and key.name == "_id"):
            raise SearchError("_cursor", "_cursor does not match the search's sort order")
    return values
