"""GET /api/indicators and its records, CSV export, trend and insurance upload: who may, what is masked."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from hub.core.db.models import AuditLog
from tests.api.conftest import auth
from tests.indicators.conftest import Month
from tests.indicators.factories import SETTLEMENTS

OCT = {"month": "2026-10"}


def _figures(body: dict) -> dict[str, dict]:
    return {f["key"]: f for f in body["indicators"]}


def test_only_managers_and_admins_read_the_indicators(month: Month) -> None:
    assert month.client.get("/api/indicators", params=OCT).status_code == 401
    denied = month.client.get("/api/indicators", params=OCT, headers=auth(month.tokens["clinician"]))
    assert denied.status_code == 403 and "needs manager" in denied.json()["issue"][0]["diagnostics"]
    assert month.client.get("/api/indicators", params=OCT, headers=auth(month.tokens["admin"])).status_code == 200


def test_figures_state_their_definition_and_what_is_missing(month: Month) -> None:
    body = month.client.get("/api/indicators", params=OCT, headers=auth(month.tokens["manager"])).json()
    assert body["members"] == ["cty01", "th01", "vc01"] and body["insurance_months"] == []
    found = _figures(body)
    assert (found["primary_visits"]["value"], found["primary_visits"]["numerator"]) == (91.7, 11)
    assert found["primary_visits"]["denominator_en"] == "Visits at all members in the month"
    county = found["in_county_visits"]
    assert county["value"] is None and county["missing_zh"].startswith("2026-10 尚未导入医保结算数据")
    # Reads signed in October: 0.5 h and 3 h, median 1.75 h.
    assert (found["remote_reads"]["value"], found["read_turnaround"]["value"]) == (2, 1.75)
    member = _figures(month.client.get("/api/indicators", params={**OCT, "member": "vc01"},
                                       headers=auth(month.tokens["manager"])).json())
    assert member["remote_reads"]["value"] == 1 and member["read_turnaround"]["value"] == 3.0
    assert member["primary_visits"]["missing_en"] == "a county-wide indicator: choose the whole county"
    bad = month.client.get("/api/indicators", params={"month": "2026-13"}, headers=auth(month.tokens["manager"]))
    assert bad.status_code == 400 and "YYYY-MM" in bad.json()["issue"][0]["diagnostics"]


def test_records_are_masked_for_managers_and_audited(month: Month) -> None:
    upload = month.client.post("/api/indicators/insurance", params={**OCT, "name": "yb.csv"},
                               content=SETTLEMENTS.encode(), headers={**auth(month.tokens["manager"]),
                                                                      "content-type": "text/csv"})
    assert upload.status_code == 200 and upload.json()["rows"] == 3
    body = month.client.get("/api/indicators/records", params={**OCT, "key": "in_county_visits", "limit": 20},
                            headers=auth(month.tokens["manager"])).json()
    assert (body["indicator"]["value"], body["total"]) == (80.0, 15)
    settlements = [r for r in body["items"] if r["kind"] == "settlement"]
    assert [r["numerator"] for r in body["items"]] == [True] * 12 + [False] * 3  # numerator first
    assert "110101198001011232" not in str(body) and "1101**********1232" in settlements[0]["detail"]
    admin = month.client.get("/api/indicators/records", params={**OCT, "key": "in_county_visits", "limit": 20},
                             headers=auth(month.tokens["admin"])).json()
    assert "110101198001011232" in str(admin)
    with month.db.reading() as session:
        audited = session.scalars(select(AuditLog).where(AuditLog.path == "/api/indicators/records")).all()
        assert audited and audited[0].role == "manager"
    page = month.client.get("/api/indicators/records", params={**OCT, "key": "hypertension_managed",
                                                                 "numerator": "false"},
                            headers=auth(month.tokens["manager"])).json()
    assert page["total"] == 1 and page["items"][0]["patient_key"] == "th01/b1"


def test_csv_exports(month: Month) -> None:
    figures = month.client.get("/api/indicators/export.csv", params=OCT, headers=auth(month.tokens["manager"]))
    assert figures.status_code == 200 and figures.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(figures.text.lstrip("\ufeff"))))
    by_key = {r["key"]: r for r in rows}
    assert (by_key["vbp_share"]["value"], by_key["vbp_share"]["numerator"], by_key["vbp_share"]["denominator"]) == (
        "50.0", "2", "4")
    assert by_key["in_county_visits"]["value"] == "" and "no medical insurance" in by_key["in_county_visits"]["missing"]
    assert by_key["hypertension_managed"]["指标"] == "高血压患者规范管理率"
    records = month.client.get("/api/indicators/records.csv", params={**OCT, "key": "vbp_share"},
                               headers=auth(month.tokens["manager"]))
    lines = list(csv.reader(io.StringIO(records.text.lstrip("\ufeff"))))
    assert lines[0] == ["kind", "id", "facility", "patient_id", "patient_key", "at", "detail", "numerator"]
    assert {line[1] for line in lines[1:]} == {"th01-rx-1", "th01-rx-2", "vc01-rx-3", "cty01-rx-4"}


def test_trend_over_months(month: Month) -> None:
    body = month.client.get("/api/indicators/trend", params={"to": "2026-10", "months": 3,
                                                             "keys": "primary_visits,diabetes_managed"},
                            headers=auth(month.tokens["manager"])).json()
    assert body["months"] == ["2026-08", "2026-09", "2026-10"]
    series = {s["key"]: s["values"] for s in body["series"]}
    assert series["primary_visits"] == [100.0, 100.0, 91.7]  # C's visits alone in August and September
    assert series["diabetes_managed"] == [0.0, 0.0, 50.0]
    wrong = month.client.get("/api/indicators/trend", params={"keys": "nope"}, headers=auth(month.tokens["manager"]))
    assert wrong.status_code == 400 and "unknown indicator nope" in wrong.json()["issue"][0]["diagnostics"]


def test_a_bad_upload_names_every_row(month: Month) -> None:
    bad = "settlement_id,settled_on,visit_type,hospital\nYB1,2026-10-01,outpatient,\nYB2,2026-09-30,住院,某医院\n"
    answer = month.client.post("/api/indicators/insurance", params=OCT, content=bad.encode(),
                               headers={**auth(month.tokens["manager"]), "content-type": "text/csv"})
    assert answer.status_code == 422
    issues = [i["diagnostics"] for i in answer.json()["issue"]]
    assert issues[1:] == ["line 2, column hospital: is empty; every row needs it",
                          "line 3, column settled_on: 2026-09-30 is not in the month imported (2026-10)"]
    clinician = month.client.post("/api/indicators/insurance", params=OCT, content=SETTLEMENTS.encode(),
                                  headers=auth(month.tokens["clinician"]))
    assert clinician.status_code == 403
