"""Runs a parsed search: the page of matches after the cursor, the total, and what the page includes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from consumers.record_store.models import StoredResource
from consumers.record_store.search import include, paging, query, shape
from hub.core.fhir_search import SearchError

MAX_COUNT = 500
DEFAULT_COUNT = 50
TOTALS = ("none", "estimate", "accurate")


@dataclass
class Page:
    rows: list[StoredResource]
    included: list[StoredResource]
    total: int | None
    next_cursor: str | None
    count: int


def page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_COUNT
    try:
        count = int(value)
    except ValueError:
        raise SearchError("_count", f"_count must be a whole number, not {value!r}") from None
    if count < 0:
        raise SearchError("_count", "_count must not be negative")
    return min(count, MAX_COUNT)


def check(request: query.Request) -> None:
    """Every result parameter, checked before anything is read."""
    page_size(request.one("_count"))
    shape.check(request.one("_summary"), request.one("_elements"))
    if request.one("_total") not in (None, *TOTALS):
        raise SearchError("_total", f"_total must be one of {', '.join(TOTALS)}")
    include.check(request.resource_type, request.result.get("_include", []), request.result.get("_revinclude", []))
    keys = paging.sort_keys(request.resource_type, request.one("_sort"))
    if request.one("_cursor"):
        paging.decode_cursor(keys, request.one("_cursor") or "")
    if request.one("_offset") is not None and not (request.one("_offset") or "").isdigit():
        raise SearchError("_offset", "_offset must be a whole number")


def search(session: Session, request: query.Request, scope: list[ColumnElement[bool]]) -> Page:
    check(request)
    count = page_size(request.one("_count"))
    summary = request.one("_summary")
    where = [StoredResource.resource_type == request.resource_type, *scope, *query.matching(session, request)]
    total = None
    if request.one("_total") != "none" or summary == "count" or count == 0:
        total = query.count_of(session, request.resource_type, where[1:])
    if summary == "count" or count == 0:
        return Page([], [], total, None, count)
    keys = paging.sort_keys(request.resource_type, request.one("_sort"))
    statement = select(StoredResource, *(k.expression.label(f"sort_{i}") for i, k in enumerate(keys))).where(*where)
    cursor = request.one("_cursor")
    if cursor:
        statement = statement.where(paging.after(keys, paging.decode_cursor(keys, cursor)))
    statement = statement.order_by(*paging.order_by(keys)).limit(count + 1)
    offset = request.one("_offset")
    if offset and not cursor:  # earlier clients' offset paging; the links this hub gives out use cursors
        statement = statement.offset(int(offset))
    found: list[Any] = list(session.execute(statement).all())
    more = len(found) > count
    found = found[:count]
    rows = [r[0] for r in found]
    next_cursor = paging.encode_cursor(keys, list(found[-1][1:])) if more and found else None
    extra = include.included(session, request.resource_type, rows, request.result.get("_include", []),
                             request.result.get("_revinclude", []), scope)
    return Page(rows, extra, total, next_cursor, count)
