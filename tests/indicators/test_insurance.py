"""Importing insurance settlement data: every bad row named (line, column, what is wrong), nothing of a bad file
kept, a month imported again replaced; the CLI prints the same, and `show` says when the data is missing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from consumers.indicators import insurance
from consumers.indicators.models import InsuranceMonth, InsuranceVisit
from hub.core.db import Database
from hub.tools.demo.insurance import write_settlements
from tests.indicators.factories import SETTLEMENTS
from tests.test_cli import hub

BAD = """settlement_id,settled_on,visit_type,hospital,region
YB1,2026-10-04,inpatient,省人民医院,省会
YB2,2026-11-01,outpatient,市中心医院,
,2026-10-05,outpatient,市中心医院,
YB1,2026-10-06,急诊,省人民医院,
YB5,10/07/2026,住院,,
"""


def test_every_bad_row_is_named_and_nothing_is_kept(db: Database) -> None:
    with pytest.raises(insurance.InsuranceFileError) as caught, db.transaction() as session:
        insurance.import_file(session, BAD.encode(), "2026-10", "bad.csv", "test")
    assert [str(e) for e in caught.value.errors] == [
        "line 3, column settled_on: 2026-11-01 is not in the month imported (2026-10)",
        "line 4, column settlement_id: is empty; every row needs it",
        "line 5, column settlement_id: 'YB1' was already on line 2",
        "line 5, column visit_type: '急诊' is not outpatient or inpatient (门诊, 住院)",
        "line 6, column hospital: is empty; every row needs it",
        "line 6, column settled_on: '10/07/2026' is not a date as YYYY-MM-DD",
    ]
    assert str(caught.value).startswith("the settlement file was not imported: 6 problem(s); first: line 3")
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(InsuranceVisit)) == 0
        assert session.get(InsuranceMonth, "2026-10") is None


def test_a_header_without_the_required_columns_is_refused() -> None:
    with pytest.raises(insurance.InsuranceFileError) as caught:
        insurance.parse("id,date,type\n1,2026-10-01,outpatient\n", "2026-10")
    assert str(caught.value.errors[0]) == (
        "line 1: the header lacks settlement_id, settled_on, visit_type, hospital; it must name settlement_id, "
        "settled_on, visit_type, hospital (and may name region, insured_id, diagnosis)")


def test_gb18030_files_are_read_and_a_month_imported_again_is_replaced(db: Database) -> None:
    with db.transaction() as session:
        assert insurance.import_file(session, SETTLEMENTS.encode("gb18030"), "2026-10", "yb.csv", "a") == 3
    with db.reading() as session:
        row = session.get(InsuranceVisit, "YB2026100002")
        assert row is not None and (row.visit_type, row.hospital, row.region) == ("outpatient", "市中心医院", "市辖区")
    shorter = "\n".join(SETTLEMENTS.splitlines()[:2]) + "\n"
    with db.transaction() as session:
        assert insurance.import_file(session, ("\ufeff" + shorter).encode(), "2026-10", "yb2.csv", "b") == 1
    with db.reading() as session:
        assert list(session.scalars(select(InsuranceVisit.settlement_id))) == ["YB2026100001"]
        month = session.get(InsuranceMonth, "2026-10")
        assert month is not None and (month.rows, month.source, month.imported_by) == (1, "yb2.csv", "b")


def test_the_cli_imports_prints_every_bad_row_and_shows_the_month(tmp_path: Path, database_url: str) -> None:
    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_DATABASE_URL": database_url}
    shown = hub("indicators", "show", "--month", "2026-10", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "县域内就诊率 Visits kept in the county: — (no medical insurance settlement data imported for 2026-10" \
        in shown.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    result = hub("indicators", "import-insurance", str(bad), "--month", "2026-10", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"error: {bad} was not imported (6 problem(s)); fix these rows and import it again:"
    assert lines[1:3] == ["  line 3, column settled_on: 2026-11-01 is not in the month imported (2026-10)",
                          "  line 4, column settlement_id: is empty; every row needs it"]
    good = tmp_path / "yb.csv"
    good.write_text(SETTLEMENTS, encoding="utf-8")
    result = hub("indicators", "import-insurance", str(good), "--month", "2026-10", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"imported 3 settlements of 2026-10 from {good}"
    shown = hub("indicators", "show", "--month", "2026-10", env=env)
    assert "县域内就诊率 Visits kept in the county: 0.0% (0/3)" in shown.stdout
    wrong = hub("indicators", "import-insurance", str(good), "--month", "2026-13", env=env)
    assert wrong.returncode == 2 and wrong.stderr.strip() == "error: month must be YYYY-MM, not '2026-13'"


def test_the_demo_countys_settlement_file_imports_whole(tmp_path: Path) -> None:
    path = write_settlements(tmp_path, date(2026, 11, 28), 60, 20261123)
    assert path.name == "insurance-2026-11.csv"
    rows = insurance.parse(path.read_text(encoding="utf-8"), "2026-11")
    assert len(rows) == 60 and {r.visit_type for r in rows} == {"inpatient", "outpatient"}
    assert all(r.settled_on.startswith("2026-11-") and r.insured_id for r in rows)
