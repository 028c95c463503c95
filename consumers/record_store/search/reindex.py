"""Writes the search index of stored resources: after the table is created (migration rs0002), or when
the parameters change (`hub record reindex`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_

from consumers.record_store.models import SearchValue, StoredResource
from consumers.record_store.search.extract import entries
from hub.core.db.models import core_table

CHUNK = 1000
log = logging.getLogger(__name__)


def rows_of(resource: dict[str, Any], key: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """The fhir_search_index rows of one resource, as insert parameters; `key` (type, id) as it is stored."""
    rtype, rid = key or (resource["resourceType"], resource["id"])
    return [{"resource_type": rtype, "id": rid, "param": param, "system": system, "value": value,
             "exact": exact, "low": low, "high": high} for param, system, value, exact, low, high in entries(resource)]


def reindex_all(connection: Connection, progress: Callable[[int], None] | None = None) -> int:
    """Indexes every stored resource again, a chunk per statement; returns how many resources."""
    table = core_table(StoredResource)
    index = core_table(SearchValue)
    done, last = 0, ("", "")
    while True:
        chunk = connection.execute(
            select(table.c.resource_type, table.c.id, table.c.content)
            .where(tuple_(table.c.resource_type, table.c.id) > last)
            .order_by(table.c.resource_type, table.c.id).limit(CHUNK)
        ).all()
        if not chunk:
            return done
        keys = [(rtype, rid) for rtype, rid, _ in chunk]
        for rtype in {rtype for rtype, _ in keys}:
            connection.execute(delete(index).where(index.c.resource_type == rtype,
                                                   index.c.id.in_([rid for t, rid in keys if t == rtype])))
        values = [row for rtype, rid, content in chunk for row in rows_of(_parsed(content, rtype), (rtype, rid))]
        if values:
            connection.execute(insert(index), values)
        done += len(chunk)
        last = keys[-1]
        if progress is not None:
            progress(done)


def _parsed(content: str, rtype: str) -> dict[str, Any]:
    try:
        resource = json.loads(content)
    except ValueError:
        log.warning("a stored %s is not JSON; it is not indexed for search", rtype)
        return {"resourceType": rtype}
    return {**resource, "resourceType": rtype} if isinstance(resource, dict) else {"resourceType": rtype}
