"""Import of medical-insurance settlement data (医保结算数据): the county residents' visits settled at
hospitals outside the county, one month per import. The hub sees only its members' visits; without this
import the denominator of 县域内就诊率 is unknown, and the indicator says so instead of showing a number.

The file is CSV (UTF-8, with or without BOM, or GB18030 as exported by many insurance systems), one
settlement per row, with a header naming these columns (order free, extra columns ignored):

| column        | required | content                                                        |
| ------------- | -------- | -------------------------------------------------------------- |
| settlement_id | yes      | the settlement number (结算流水号), unique                        |
| settled_on    | yes      | date of the visit's settlement, YYYY-MM-DD, inside the month    |
| visit_type    | yes      | outpatient or inpatient (门诊, 住院)                              |
| hospital      | yes      | the hospital outside the county (就医机构名称)                     |
| region        | no       | where it is (就医地, e.g. 市辖区, 省外)                             |
| insured_id    | no       | the insured person's number; masked for roles that may not see it |
| diagnosis     | no       | the settled diagnosis (ICD-10 code or text)                     |

A file with any bad row is refused whole, with every bad row named (line, column, what is wrong), so a
month is never half imported. Importing a month again replaces that month.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete
from sqlalchemy.orm import Session

from consumers.indicators.models import InsuranceMonth, InsuranceVisit
from hub.core.errors import PermanentError
from hub.core.events import utcnow

COLUMNS = ("settlement_id", "settled_on", "visit_type", "hospital", "region", "insured_id", "diagnosis")
REQUIRED = ("settlement_id", "settled_on", "visit_type", "hospital")
VISIT_TYPES = {"outpatient": "outpatient", "inpatient": "inpatient", "门诊": "outpatient", "住院": "inpatient"}
LIMITS = {"settlement_id": 64, "hospital": 200, "region": 100, "insured_id": 64, "diagnosis": 200}
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_ERRORS = 200  # a wholly wrong file names its first 200 problems, not 100,000


@dataclass(frozen=True)
class RowError:
    line: int  # line of the file (the header is line 1)
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class InsuranceFileError(PermanentError, ValueError):
    """A settlement file that cannot be imported; `errors` names every bad row."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        more = "" if len(errors) < MAX_ERRORS else f" (the first {MAX_ERRORS} shown)"
        super().__init__(f"the settlement file was not imported: {len(errors)} problem(s){more}; "
                         f"first: {errors[0]}", "validate")


def check_month(month: str) -> str:
    if not MONTH.match(month):
        raise ValueError(f"month must be YYYY-MM, not {month!r}")
    return month


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InsuranceFileError([RowError(1, None, "the file is neither UTF-8 nor GB18030 text; save it as CSV UTF-8")])


def parse(text: str, month: str) -> list[InsuranceVisit]:
    """The rows of a settlement file for `month`; InsuranceFileError naming every bad row."""
    check_month(month)
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InsuranceFileError([RowError(1, None, f"the header lacks {', '.join(missing)}; it must name "
                                           f"{', '.join(REQUIRED)} (and may name {', '.join(COLUMNS[4:])})")])
    reader.fieldnames = header
    errors: list[RowError] = []
    rows: list[InsuranceVisit] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
        problems = _problems(values, month, line, seen)
        if problems:
            errors.extend(problems)
            if len(errors) >= MAX_ERRORS:
                break
            continue
        seen[values["settlement_id"]] = line
        rows.append(InsuranceVisit(
            settlement_id=values["settlement_id"], month=month, settled_on=values["settled_on"],
            visit_type=VISIT_TYPES[values["visit_type"].lower()], hospital=values["hospital"],
            region=values.get("region") or None, insured_id=values.get("insured_id") or None,
            diagnosis=values.get("diagnosis") or None))
    if errors:
        raise InsuranceFileError(errors[:MAX_ERRORS])
    return rows


def _problems(values: dict[str, str], month: str, line: int, seen: dict[str, int]) -> list[RowError]:
    problems = [RowError(line, name, "is empty; every row needs it") for name in REQUIRED if not values.get(name)]
    for name, limit in LIMITS.items():
        if len(values.get(name) or "") > limit:
            problems.append(RowError(line, name, f"is longer than {limit} characters"))
    settlement = values.get("settlement_id")
    if settlement and settlement in seen:
        problems.append(RowError(line, "settlement_id", f"{settlement!r} was already on line {seen[settlement]}"))
    settled = values.get("settled_on")
    if settled:
        try:
            day = date.fromisoformat(settled)
        except ValueError:
            problems.append(RowError(line, "settled_on", f"{settled!r} is not a date as YYYY-MM-DD"))
        else:
            if day.strftime("%Y-%m") != month:
                problems.append(RowError(line, "settled_on", f"{settled} is not in the month imported ({month})"))
    kind = values.get("visit_type")
    if kind and kind.lower() not in VISIT_TYPES:
        problems.append(RowError(line, "visit_type", f"{kind!r} is not outpatient or inpatient (门诊, 住院)"))
    return problems


def store(session: Session, month: str, rows: list[InsuranceVisit], source: str, who: str) -> None:
    """Replaces the month's settlements with `rows` and marks the month as imported."""
    session.execute(delete(InsuranceVisit).where(InsuranceVisit.month == month))
    session.flush()
    taken = {r.settlement_id for r in rows}
    if taken:  # a settlement id is unique across months: an earlier month's copy is replaced too
        session.execute(delete(InsuranceVisit).where(InsuranceVisit.settlement_id.in_(taken)))
    session.add_all(rows)
    existing = session.get(InsuranceMonth, month)
    if existing is None:
        session.add(InsuranceMonth(month=month, source=source[:300], rows=len(rows), imported_by=who[:100],
                                   imported_at=utcnow()))
    else:
        existing.source, existing.rows, existing.imported_by, existing.imported_at = (
            source[:300], len(rows), who[:100], utcnow())


def import_file(session: Session, data: bytes, month: str, source: str, who: str) -> int:
    """Parses and stores one month's file; returns the number of settlements."""
    rows = parse(decode(data), month)
    store(session, month, rows, source, who)
    return len(rows)
