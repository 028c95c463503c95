"""A FHIR search request as SQL over fhir_resource: each parameter (with its modifier and comma
alternatives) becomes one condition; repeated parameters must all hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from consumers.record_store import queries
from consumers.record_store.models import ResourceCode, ResourceIdentifier, SearchValue, StoredResource
from consumers.record_store.search.extract import normalise, phone_digits
from consumers.record_store.search.parameters import RESULT_PARAMS, SearchParam, params_of
from hub.core.fhir_search import SearchError, date_clause, date_range, range_clause

MODIFIERS = {
    "string": ("exact", "contains", "missing"),
    "token": ("not", "missing"),
    "date": ("missing",),
    "reference": ("missing",),  # and a resource type: subject:Patient
    "uri": ("missing",),
}
_PHONE_PARAMS = ("phone", "telecom")
_LAST = "\U0010ffff"  # sorts after every character: [prefix, prefix + _LAST) holds every value it starts


@dataclass(frozen=True)
class Criterion:
    param: SearchParam
    modifier: str | None
    values: tuple[str, ...]  # comma alternatives


@dataclass
class Request:
    """A search as parsed: the criteria, the result parameters, and what a lenient search left out."""

    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    result: dict[str, list[str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)

    def one(self, name: str) -> str | None:
        values = self.result.get(name)
        return values[-1] if values else None


def parse(resource_type: str, items: list[tuple[str, str]], strict: bool) -> Request:
    """The query string's (name, value) pairs -> a Request. A parameter or modifier the type does not have
    is a SearchError when `strict`, else left out and named in `ignored`."""
    known = params_of(resource_type)
    request = Request(resource_type)
    for raw_name, value in items:
        name, _, modifier = raw_name.partition(":")
        if name in RESULT_PARAMS:
            request.result.setdefault(name, []).append(value)
            continue
        param = known.get(name)
        problem = None
        if param is None:
            problem = (f"unknown search parameter {name!r} for {resource_type}; supported: "
                       f"{', '.join(sorted(known))}")
        elif modifier and not _modifier_ok(param, modifier):
            problem = (f"{name}: modifier :{modifier} is not supported for a {param.kind} parameter; supported: "
                       f"{', '.join(MODIFIERS[param.kind]) or 'none'}")
        elif value == "" and modifier != "missing":
            problem = f"{name}: an empty value searches for nothing"
        if problem:
            if strict:
                raise SearchError(raw_name, problem)
            request.ignored.append(raw_name)
            continue
        assert param is not None
        if modifier == "missing" and value not in ("true", "false"):
            raise SearchError(raw_name, f"{raw_name} takes true or false, not {value!r}")
        request.criteria.append(Criterion(param, modifier or None, tuple(_split_commas(value))))
    return request


def _modifier_ok(param: SearchParam, modifier: str) -> bool:
    if modifier in MODIFIERS[param.kind]:
        return True
    return param.kind == "reference" and modifier[:1].isupper() and (not param.targets or modifier in param.targets)


def _split_commas(value: str) -> list[str]:
    r"""Comma alternatives; `\,` is a literal comma (FHIR's escaping)."""
    parts, current, escaped = [], "", False
    for char in value:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p != ""]


def condition(session: Session, resource_type: str, criterion: Criterion, driving: bool = True) -> ColumnElement[bool]:
    """The SQL condition on StoredResource for one criterion. `driving`: the resources are found through
    the criterion's index rows first (an IN); otherwise each candidate found by another criterion is
    checked against its own rows (an EXISTS on (resource_type, id))."""
    param, modifier = criterion.param, criterion.modifier
    if modifier == "missing":
        present = _present(resource_type, param)
        return not_(present) if criterion.values == ("true",) else present
    if param.where == "person":
        return _person(session, criterion)
    if param.where == "column":
        return _column(param, modifier, criterion.values)
    rows = index_rows(resource_type, criterion)
    assert rows is not None
    matched = _found_by(rows, driving)
    return not_(matched) if modifier == "not" else matched


def index_rows(resource_type: str, criterion: Criterion) -> tuple[Any, Any] | None:
    """(table, its rows that satisfy the criterion, ignoring :not) for criteria kept in an index table
    (fhir_search_index, codes, identifiers); None for the others."""
    param, modifier = criterion.param, criterion.modifier
    if modifier == "missing" or param.where in ("person", "column"):
        return None
    if param.where in ("code", "identifier"):
        model: Any = ResourceCode if param.where == "code" else ResourceIdentifier
        alternatives = [_token_clause(model, param.where, v) for v in criterion.values]
        return model, select(model.id).where(model.resource_type == resource_type, or_(*alternatives))
    alternatives = [_value_clause(param, modifier, v) for v in criterion.values]
    return SearchValue, select(SearchValue.id).where(
        SearchValue.resource_type == resource_type, SearchValue.param == param.name, or_(*alternatives))


def _found_by(rows: tuple[Any, Any], driving: bool) -> ColumnElement[bool]:
    model, selected = rows
    if driving:  # the values first, through (resource_type, param, value) or the table's lookup index
        return StoredResource.id.in_(selected)
    return selected.where(model.id == StoredResource.id).exists()


def _present(resource_type: str, param: SearchParam) -> ColumnElement[bool]:
    if param.where == "column":
        return getattr(StoredResource, param.column or param.name).is_not(None)
    if param.where == "person":
        return StoredResource.subject_id.is_not(None)
    if param.where in ("code", "identifier"):
        model = ResourceCode if param.where == "code" else ResourceIdentifier
        return StoredResource.id.in_(select(model.id).where(model.resource_type == resource_type))
    return StoredResource.id.in_(select(SearchValue.id).where(
        SearchValue.resource_type == resource_type, SearchValue.param == param.name))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _value_clause(param: SearchParam, modifier: str | None, value: str) -> ColumnElement[bool]:
    match param.kind:
        case "string":
            if modifier == "exact":
                return SearchValue.exact == value
            needle = normalise(value)
            if modifier == "contains":
                return SearchValue.value.like(f"%{_escape_like(needle)}%", escape="\\")
            # Starts-with as a range, which the index serves (values are stored normalised, compared bytewise).
            return and_(SearchValue.value >= needle, SearchValue.value < needle + _LAST)
        case "token":
            system, code = _token(value)
            if param.name in _PHONE_PARAMS and code is not None and _looks_like_phone(code):
                code = phone_digits(code)
            clauses = []
            if system is not None:
                clauses.append(SearchValue.system.is_(None) if system == "" else SearchValue.system == system)
            if code is not None:
                clauses.append(SearchValue.value == code)
            return and_(true(), *clauses)
        case "date":
            prefix, start, end = date_range(param.name, value)
            return range_clause(SearchValue.low, SearchValue.high, prefix, start, end)
        case "reference":
            kind, rid = _reference(value, modifier)
            return and_(SearchValue.value == rid, *([SearchValue.system == kind] if kind else []))
        case "uri":
            return SearchValue.value == value
    raise SearchError(param.name, f"{param.name}: {param.kind} parameters are not searched")


def _column(param: SearchParam, modifier: str | None, values: tuple[str, ...]) -> ColumnElement[bool]:
    column = getattr(StoredResource, param.column or param.name)
    if param.kind == "date":
        return or_(*(date_clause(column, *date_range(param.name, v)) for v in values))
    codes = [_token(v)[1] for v in values]
    matched = column.in_([c for c in codes if c is not None])
    return or_(not_(matched), column.is_(None)) if modifier == "not" else matched


def _token_clause(model: Any, where: str, value: str) -> ColumnElement[bool]:
    system, code = _token(value)
    column = model.code if where == "code" else model.value
    clauses = []
    if system is not None:
        clauses.append(model.system == system)  # "" (|code) is stored as "" by the writer
    if code is not None:
        clauses.append(column == code)
    return and_(true(), *clauses)


def _person(session: Session, criterion: Criterion) -> ColumnElement[bool]:
    """subject / patient: the records of every member of the person each Patient id belongs to."""
    keys: set[str] = set()
    for value in criterion.values:
        kind, rid = _reference(value, criterion.modifier)
        if kind not in (None, "Patient"):
            return false()  # the shared record's resources are about patients only
        keys.update(queries.patient_keys_for(session, rid))
    return StoredResource.patient_key.in_(sorted(keys)) if keys else false()


def _token(value: str) -> tuple[str | None, str | None]:
    """'system|code' -> (system, code); '|code' -> ('', code); 'system|' -> (system, None); 'code' -> (None, code)."""
    if "|" not in value:
        return None, value
    system, _, code = value.partition("|")
    return system, (code or None)


def _looks_like_phone(text: str) -> bool:
    return sum(c.isdigit() for c in text) >= 5 and all(c.isdigit() or c in " +-()." for c in text)


def _reference(value: str, modifier: str | None) -> tuple[str | None, str]:
    """'Patient/1', 'http://host/fhir/Patient/1', or '1' with a type modifier -> (type, id)."""
    parts = value.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return (modifier if modifier and modifier[:1].isupper() else None), parts[-1]


def matching(session: Session, request: Request) -> list[ColumnElement[bool]]:
    """Every criterion's condition. With several criteria kept in index tables, the one with the fewest
    rows finds the candidates and the others are checked per candidate: `name=zh&birthdate=1995-07-08`
    starts from the day's dozen births, not from the tens of thousands of names that begin with zh
    (neither database can tell from its statistics how many values a prefix covers)."""
    positive = [c for c in request.criteria if c.modifier != "not" and index_rows(request.resource_type, c)]
    driver = min(positive, key=lambda c: _rows_up_to(session, request.resource_type, c)) if len(positive) > 1 else None
    return [condition(session, request.resource_type, c, driving=driver is None or c is driver or c not in positive)
            for c in request.criteria]


ESTIMATE_CAP = 2000  # counting further would cost what it saves


def _rows_up_to(session: Session, resource_type: str, criterion: Criterion) -> int:
    rows = index_rows(resource_type, criterion)
    assert rows is not None
    bounded = rows[1].limit(ESTIMATE_CAP).subquery()
    return int(session.scalar(select(func.count()).select_from(bounded)) or 0)


def count_of(session: Session, resource_type: str, where: list[ColumnElement[bool]]) -> int:
    query = select(func.count()).select_from(StoredResource).where(StoredResource.resource_type == resource_type, *where)
    return int(session.scalar(query) or 0)


