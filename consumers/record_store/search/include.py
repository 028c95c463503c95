"""`_include` and `_revinclude`: the resources a page's entries point at, and those that point at them,
returned beside the matches (search mode `include`) under the same access scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from consumers.record_store import queries
from consumers.record_store.models import SearchValue, StoredResource
from consumers.record_store.search.parameters import PARAMETERS, SearchParam, params_of
from hub.core.fhir_search import SearchError

MAX_INCLUDED = 1000  # per page: a bundle stays a size a client can take


def _reference_param(spec: str, name: str, searched: str, reverse: bool) -> tuple[str, SearchParam, str | None]:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0] not in PARAMETERS:
        raise SearchError(name, f"{name} takes SourceType:parameter[:TargetType], not {spec!r}")
    source, param_name = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    param = params_of(source).get(param_name)
    if param is None or param.kind != "reference":
        references = sorted(n for n, p in params_of(source).items() if p.kind == "reference")
        raise SearchError(name, f"{name}: {source} has no reference parameter {param_name!r}; it has "
                                f"{', '.join(references)}")
    if not reverse and source != searched:
        raise SearchError(name, f"_include names parameters of the searched type {searched}, not {source}")
    if reverse and param.targets and searched not in param.targets:
        raise SearchError(name, f"_revinclude: {source}:{param_name} never points at {searched}")
    return source, param, target


def check(searched: str, includes: list[str], revincludes: list[str]) -> None:
    for spec in includes:
        _reference_param(spec, "_include", searched, False)
    for spec in revincludes:
        _reference_param(spec, "_revinclude", searched, True)


def included(session: Session, searched: str, rows: list[StoredResource], includes: list[str],
             revincludes: list[str], scope: list[ColumnElement[bool]]) -> list[StoredResource]:
    if not rows:
        return []
    seen = {(r.resource_type, r.id) for r in rows}
    wanted: set[tuple[str, str]] = set()
    found: list[StoredResource] = []
    for spec in includes:
        _, param, target = _reference_param(spec, "_include", searched, False)
        wanted |= _targets(session, searched, rows, param, target)
    for spec in revincludes:
        source, param, _ = _reference_param(spec, "_revinclude", searched, True)
        found += _pointing(session, source, param, searched, rows, scope)
    wanted -= seen
    for chunk in _chunks(sorted(wanted), 300):
        found += session.scalars(select(StoredResource).where(
            or_(*(and_(StoredResource.resource_type == t, StoredResource.id == i) for t, i in chunk)), *scope)).all()
    out: list[StoredResource] = []
    for row in found:
        key = (row.resource_type, row.id)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out[:MAX_INCLUDED]


def _targets(session: Session, searched: str, rows: list[StoredResource], param: SearchParam,
             target: str | None) -> set[tuple[str, str]]:
    if param.where == "person":  # subject / patient: the Patient the resource names
        return {("Patient", r.subject_id) for r in rows if r.subject_id and target in (None, "Patient")}
    ids = [r.id for r in rows]
    query = select(SearchValue.system, SearchValue.value).where(
        SearchValue.resource_type == searched, SearchValue.id.in_(ids), SearchValue.param == param.name)
    if target:
        query = query.where(SearchValue.system == target)
    return {(str(kind), str(rid)) for kind, rid in session.execute(query) if kind and rid}


def _pointing(session: Session, source: str, param: SearchParam, searched: str, rows: list[StoredResource],
              scope: list[ColumnElement[bool]]) -> list[StoredResource]:
    if param.where == "person":  # every record of each patient's person, at every member
        if searched != "Patient":
            return []
        keys: set[str] = set()
        for row in rows:
            keys.update(queries.patient_keys_for(session, row.id))
        if not keys:
            return []
        return list(session.scalars(select(StoredResource).where(
            StoredResource.resource_type == source, StoredResource.patient_key.in_(sorted(keys)), *scope)
            .order_by(StoredResource.id).limit(MAX_INCLUDED)))
    pointing = select(SearchValue.id).where(
        SearchValue.resource_type == source, SearchValue.param == param.name, SearchValue.system == searched,
        SearchValue.value.in_([r.id for r in rows]))
    return list(session.scalars(select(StoredResource).where(
        StoredResource.resource_type == source, StoredResource.id.in_(pointing), *scope)
        .order_by(StoredResource.id).limit(MAX_INCLUDED)))


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
