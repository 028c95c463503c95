"""County monitoring indicators over HTTP: the figures of a month (JSON and CSV), the records behind one
figure, the figures over months for the charts, and the import of insurance settlement data.

Figures are counts (`@no_patient_data`); the records behind them name patients, so they are audited and
masked by the response hook (the CSV export of records is masked and declared here, since the hook reads
JSON only). Health managers (`manager`) and admins may read them; only they may import.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from consumers.indicators import insurance
from consumers.indicators.definitions import BY_KEY, DEFINITIONS
from consumers.indicators.facts import CHINA
from consumers.indicators.queries import Counted, Record, compute, imported_months, members
from hub.core.events import utcnow
from hub.core.masking import mask_text
from hub.core.web.auth import UNMASKED, Principal, require
from hub.core.web.errors import FhirError
from hub.core.web.hooks import declare_patients, no_patient_data

router = APIRouter(prefix="/api/indicators", tags=["county indicators"])
manager = require("manager")  # admin passes every role check
MAX_LIMIT = 1000
MAX_MONTHS = 24
MAX_UPLOAD = 50 * 1024 * 1024  # a county's month of settlements is a few MB
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_MEMBER = re.compile(r"[A-Za-z0-9_-]{1,32}")
RECORD_COLUMNS = ("kind", "id", "facility", "patient_id", "patient_key", "at", "detail", "numerator")


def _month(raw: str | None, name: str = "month") -> str:
    if raw is None:
        return utcnow().astimezone(CHINA).strftime("%Y-%m")
    if not _MONTH.fullmatch(raw):
        raise FhirError(400, "invalid", f"{name} must be a month as YYYY-MM, not {raw!r}", [name])
    return raw


def _member(raw: str | None) -> str | None:
    if not raw:
        return None
    if not _MEMBER.fullmatch(raw):
        raise FhirError(400, "invalid", f"member must be a facility id, not {raw!r}", ["member"])
    return raw


def _figure_json(counted: Counted) -> dict[str, Any]:
    return {**BY_KEY[counted.figure.key].as_json(), **counted.figure.as_json()}


@router.get("", summary="The county monitoring indicators of a month, for the county or one member, each with its "
            "definition (numerator, denominator, data source)")
@no_patient_data  # counts and definitions only
def indicators(request: Request, month: str | None = None, member: str | None = None,
               _principal: Principal = Depends(manager)) -> dict[str, Any]:
    label, facility = _month(month), _member(member)
    with request.app.state.database.reading() as session:
        found = compute(session, request.app.state.services, label, facility)
        return {"month": label, "member": facility, "members": members(session),
                "insurance_months": imported_months(session),
                "indicators": [_figure_json(c) for c in found.values()]}


def _figures_csv(rows: list[tuple[str, str | None, Counted]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("month", "member", "key", "indicator", "指标", "value", "unit", "numerator", "denominator",
                     "numerator_definition", "denominator_definition", "source", "missing"))
    for label, facility, counted in rows:
        figure, definition = counted.figure, BY_KEY[counted.figure.key]
        writer.writerow((label, facility or "county", figure.key, definition.name_en, definition.name_zh,
                         "" if figure.value is None else figure.value, definition.unit,
                         "" if figure.numerator is None else figure.numerator,
                         "" if figure.denominator is None else figure.denominator,
                         definition.numerator_en, definition.denominator_en, definition.source_en,
                         figure.missing_en or ""))
    return out.getvalue()


def _csv(text: str, name: str) -> Response:
    # A BOM, so that Excel (the county offices' tool) opens the Chinese names as UTF-8.
    return Response("\ufeff" + text, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/export.csv", summary="The indicators of a month as CSV (one row per indicator, with its definition)")
@no_patient_data
def export(request: Request, month: str | None = None, member: str | None = None,
           _principal: Principal = Depends(manager)) -> Response:
    label, facility = _month(month), _member(member)
    with request.app.state.database.reading() as session:
        found = compute(session, request.app.state.services, label, facility)
    return _csv(_figures_csv([(label, facility, c) for c in found.values()]),
                f"indicators-{label}-{facility or 'county'}.csv")


def _months_back(last: str, count: int) -> list[str]:
    total = int(last[:4]) * 12 + int(last[5:7]) - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(total - count + 1, total + 1)]


@router.get("/trend", summary="The indicators over months (for the charts): `months` months ending with `to`")
@no_patient_data
def trend(request: Request, to: str | None = None, months: int = 12, member: str | None = None,
          keys: str | None = Query(None, description="comma-separated indicator keys (default: all)"),
          _principal: Principal = Depends(manager)) -> dict[str, Any]:
    if not 1 <= months <= MAX_MONTHS:
        raise FhirError(400, "invalid", f"months must be 1 to {MAX_MONTHS}, not {months}", ["months"])
    wanted = [k for k in (keys or "").split(",") if k] or [d.key for d in DEFINITIONS]
    unknown = [k for k in wanted if k not in BY_KEY]
    if unknown:
        raise FhirError(400, "invalid", f"unknown indicator {', '.join(unknown)}; known: {', '.join(BY_KEY)}", ["keys"])
    labels, facility = _months_back(_month(to, "to"), months), _member(member)
    series: dict[str, list[float | None]] = {k: [] for k in wanted}
    with request.app.state.database.reading() as session:
        for label in labels:
            for key, counted in compute(session, request.app.state.services, label, facility, wanted).items():
                series[key].append(counted.figure.value)
    return {"months": labels, "member": facility,
            "series": [{**BY_KEY[k].as_json(), "values": series[k]} for k in wanted]}


def _records(request: Request, key: str, month: str | None, member: str | None) -> tuple[str, str | None, Counted]:
    if key not in BY_KEY:
        raise FhirError(400, "invalid", f"unknown indicator {key!r}; known: {', '.join(BY_KEY)}", ["key"])
    label, facility = _month(month), _member(member)
    with request.app.state.database.reading() as session:
        return label, facility, compute(session, request.app.state.services, label, facility, [key])[key]


def _record_json(record: Record) -> dict[str, Any]:
    return {name: getattr(record, name) for name in RECORD_COLUMNS}


@router.get("/records", summary="The records one indicator counted (visits, settlements, referrals, patients, "
            "results, reads, prescription lines), numerator first; patient data masked per role")
def records(request: Request, key: str, month: str | None = None, member: str | None = None, limit: int = 100,
            offset: int = 0, numerator: bool | None = None, _principal: Principal = Depends(manager)) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIMIT:
        raise FhirError(400, "invalid", f"limit must be 1 to {MAX_LIMIT}, not {limit}", ["limit"])
    if offset < 0:
        raise FhirError(400, "invalid", f"offset must not be negative, not {offset}", ["offset"])
    label, facility, counted = _records(request, key, month, member)
    rows = sorted(counted.records, key=lambda r: not r.numerator)  # stable: numerator first, then in order
    if numerator is not None:
        rows = [r for r in rows if r.numerator == numerator]
    return {"month": label, "member": facility, "indicator": _figure_json(counted), "total": len(rows),
            "limit": limit, "offset": offset, "items": [_record_json(r) for r in rows[offset:offset + limit]]}


@router.get("/records.csv", summary="The records one indicator counted, as CSV; patient data masked per role")
def records_csv(request: Request, key: str, month: str | None = None, member: str | None = None,
                principal: Principal = Depends(manager)) -> Response:
    label, facility, counted = _records(request, key, month, member)
    declare_patients(request, {r.patient_id for r in counted.records if r.patient_id})
    masked = principal.role not in UNMASKED
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RECORD_COLUMNS)
    for record in counted.records:
        values = [getattr(record, name) for name in RECORD_COLUMNS]
        writer.writerow([mask_text(v) if masked and isinstance(v, str) else v for v in values])
    return _csv(out.getvalue(), f"indicator-{key}-{label}-{facility or 'county'}.csv")


@router.post("/insurance", summary="Import one month of medical insurance settlements of visits outside the "
             "county (CSV body, columns in the README); a file with a bad row is refused whole, every bad row named")
@no_patient_data  # the answer is a count or the file's problems (line, column), never its content
async def import_insurance(request: Request, month: str, name: str = "upload.csv",
                           principal: Principal = Depends(manager)) -> JSONResponse:
    label = _month(month)
    data = await request.body()
    if not data.strip():
        raise FhirError(400, "required", "the body is empty: send the settlement CSV file as the request body")
    if len(data) > MAX_UPLOAD:
        raise FhirError(413, "too-costly", f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; "
                        "import the month in parts of the county's regions, or with the hub CLI")

    def run() -> int:
        with request.app.state.database.transaction() as session:
            return insurance.import_file(session, data, label, name, principal.name)

    try:
        count = await run_in_threadpool(run)
    except insurance.InsuranceFileError as error:
        issues = [{"severity": "error", "code": "invalid", "diagnostics": str(e),
                   "expression": [f"line {e.line}" + (f".{e.column}" if e.column else "")]} for e in error.errors]
        return JSONResponse({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "invalid", "diagnostics": str(error)}, *issues]}, status_code=422,
            media_type="application/fhir+json")
    return JSONResponse({"month": label, "rows": count, "imported_at": datetime.now(CHINA).isoformat()})
