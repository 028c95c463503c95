"""Writes the search index of stored resources: after the table is created (migration rs0002), or when
the parameters change (`hub record reindex`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_

from consumers.record_store.models import SearchValue, StoredResource
from consumers.record_store.search.extract import entries
from hub.core.db.models import core_table

CHUNK = 1000


def rows_of(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The fhir_search_index rows of one resource, as insert parameters."""
    rtype, rid = resource["resourceType"], resource["id"]
    return [{"resource_type": rtype, "id": rid, "param": e.param, "system": e.system, "value": e.value,
             "exact": e.exact, "low": e.low, "high": e.high} for e in entries(resource)]


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
        values = [row for _, _, content in chunk for row in rows_of(json.loads(content))]
        if values:
            connection.execute(insert(index), values)
        done += len(chunk)
        last = keys[-1]
        if progress is not None:
            progress(done)
