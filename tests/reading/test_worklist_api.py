"""Worklists, claims with a lease, reports and their versions through the reading API."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select, update

from consumers.reading.models import ReadingItem, ReadingReportVersion
from consumers.reading.sweep import Sweeper
from consumers.record_store.writer import RecordWriter
from hub.core.db.models import ResultOutboxRow
from hub.core.events import Event, Source, utcnow
from hub.core.fhir import validate_resource
from tests.factories import BASE_TIME
from tests.reading.conftest import Reading
from tests.reading.factories import ECG_REPORT, arrival, order


def _outbox(reading: Reading) -> list[tuple[str, bytes]]:
    with reading.db.reading() as session:
        return [(r.event_id, r.key) for r in session.scalars(select(ResultOutboxRow).order_by(ResultOutboxRow.seq))]


def test_an_order_waits_for_its_waveform_then_is_ready_sorted_by_due(reading: Reading) -> None:
    reading.feed([order(number="E1"), order(number="E2", priority="stat", local="1")])
    waiting = reading.get("/api/reading/worklist", centre="ecg", state="waiting").json()
    assert {i["id"] for i in waiting["items"]} == {"rd-th01-sr-E1", "rd-th01-sr-E2"}
    assert reading.get("/fhir/Task", code="ecg-read", status="ready").json()["total"] == 0

    reading.feed([arrival(uid="1.2.3.1", based_on="th01-sr-E1"), arrival(uid="1.2.3.2", based_on="th01-sr-E2")])
    bundle = reading.get("/fhir/Task", code="ecg-read", status="ready").json()
    tasks = [e["resource"] for e in bundle["entry"]]
    assert [t["id"] for t in tasks] == ["rd-th01-sr-E2", "rd-th01-sr-E1"]  # stat (10 min) before routine (30 min)
    first = tasks[0]
    assert first["code"]["coding"][0] == {"system": "urn:hub:task", "code": "ecg-read",
                                          "display": "远程心电诊断 ECG read"}
    assert first["for"]["reference"] == f"Patient/{reading.community.golden}"
    assert first["focus"]["reference"] == "ServiceRequest/th01-sr-E2"
    assert first["priority"] == "stat" and first["status"] == "ready"
    assert first["restriction"]["period"]["end"] < tasks[1]["restriction"]["period"]["end"]
    assert reading.get("/fhir/Task", code="urn:hub:task|imaging-read").json()["total"] == 0
    validate_resource(bundle)  # valid R4: the Bundle and every Task in it
    claimed = reading.post("/api/reading/items/rd-th01-sr-E2/claim")
    assert claimed.status_code == 200
    held = reading.get("/fhir/Task/rd-th01-sr-E2").json()
    assert held["status"] == "in-progress" and held["owner"] == {"display": "reader-zhang"}
    validate_resource(held)
    assert reading.get("/fhir/Task", code="ecg-read", status="in-progress").json()["total"] == 1
    assert reading.get("/fhir/Task", code="ecg-read", status="ready").json()["total"] == 1


def test_the_study_first_then_the_order_by_accession(reading: Reading) -> None:
    reading.feed([arrival(uid="9.9.1", ecg=False, accession="ACC-7")])
    unordered = reading.get("/api/reading/unordered").json()
    assert [a["study_id"] for a in unordered["items"]] == ["th01-img-9-9-1"]
    assert reading.get("/api/reading/worklist").json()["total"] == 0

    reading.feed([order(number="CT7", ecg=False, accession="ACC-7")])
    assert reading.get("/api/reading/unordered").json()["total"] == 0
    items = reading.get("/api/reading/worklist", centre="imaging", state="ready").json()["items"]
    assert [(i["id"], i["study_id"], i["modality"]) for i in items] == [("rd-th01-sr-CT7", "th01-img-9-9-1", "CT")]


def test_an_unordered_study_becomes_an_item_when_a_lead_accepts_it(reading: Reading) -> None:
    reading.feed([arrival(uid="5.5.5")])
    refused = reading.post("/api/reading/unordered/th01-img-5-5-5/accept", "reader")
    assert refused.status_code == 403 and "reading_lead" in refused.json()["issue"][0]["diagnostics"]
    accepted = reading.post("/api/reading/unordered/th01-img-5-5-5/accept", "lead", {"priority": "urgent"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "ready" and accepted.json()["priority"] == "urgent"
    again = reading.post("/api/reading/unordered/th01-img-5-5-5/accept", "lead")
    assert again.status_code == 409 and "already item" in again.json()["issue"][0]["diagnostics"]
    task = reading.get(f"/fhir/Task/{accepted.json()['id']}").json()
    assert task["focus"]["reference"] == "ImagingStudy/th01-img-5-5-5"


def test_claim_report_sign_publishes_and_the_item_leaves(reading: Reading) -> None:
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    item = "rd-th01-sr-E1"
    claimed = reading.post(f"/api/reading/items/{item}/claim")
    assert claimed.status_code == 200 and claimed.json()["holder"] == "reader-zhang"
    second = reading.post(f"/api/reading/items/{item}/claim", "reader2")
    assert second.status_code == 409
    issue = second.json()["issue"][0]
    assert "held by reader-zhang" in issue["diagnostics"] and issue["details"]["coding"][0]["code"] == "reader-zhang"
    on_someone_elses = reading.post(f"/api/reading/items/{item}/report/sign", "reader2", {"content": ECG_REPORT})
    assert on_someone_elses.status_code == 409 and "reader-zhang" in on_someone_elses.json()["issue"][0]["diagnostics"]

    incomplete = reading.post(f"/api/reading/items/{item}/report/sign", body={"content": {"rate": 70}})
    assert incomplete.status_code == 422
    assert {i["expression"][0] for i in incomplete.json()["issue"]} == {"content.conclusion", "content.rhythm"}
    bad = reading.put(f"/api/reading/items/{item}/report", body={"content": {"rate": "fast"}})
    assert bad.status_code == 400 and "rate" in bad.json()["issue"][0]["diagnostics"]
    draft = reading.put(f"/api/reading/items/{item}/report", body={"content": {**ECG_REPORT, "conclusion": "草稿"}})
    assert draft.status_code == 200 and draft.json()["report"]["draft"]["conclusion"] == "草稿"

    signed = reading.post(f"/api/reading/items/{item}/report/sign", body={"content": ECG_REPORT})
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["status"] == "final" and body["version"] == 1 and body["item"]["state"] == "done"
    report = body["report"]["versions"][0]["resource"]
    assert report["status"] == "final" and report["subject"] == {"reference": "Patient/th01-pat-1"}
    assert report["basedOn"] == [{"reference": "ServiceRequest/th01-sr-E1"}]
    assert report["conclusion"] == "窦性心律，正常心电图"
    assert report["resultsInterpreter"] == [{"display": "reader-zhang"}]
    assert _outbox(reading) == [(body["event_id"], b"th01/1")]  # to the ordering member's patient
    assert reading.get("/api/reading/worklist").json()["total"] == 0
    assert reading.get("/fhir/Task", code="ecg-read", status="completed").json()["total"] == 1


def test_lapsed_lease_second_claimer_and_amendment(reading: Reading) -> None:
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    item = "rd-th01-sr-E1"
    assert reading.post(f"/api/reading/items/{item}/claim").status_code == 200
    assert reading.post(f"/api/reading/items/{item}/renew").status_code == 200
    with reading.db.transaction() as session:  # the page was closed: the lease runs out
        session.execute(update(ReadingItem).where(ReadingItem.id == item)
                        .values(lease_until=utcnow() - timedelta(seconds=1)))
    assert Sweeper(reading.db, reading.client.app.state.reading_config).once().lapsed == 1
    assert reading.get("/fhir/Task", code="ecg-read", status="ready").json()["total"] == 1
    taken = reading.post(f"/api/reading/items/{item}/claim", "reader2")
    assert taken.status_code == 200 and taken.json()["holder"] == "reader-li"
    late = reading.post(f"/api/reading/items/{item}/renew")
    assert late.status_code == 409 and "held by reader-li" in late.json()["issue"][0]["diagnostics"]

    signed = reading.post(f"/api/reading/items/{item}/report/sign", "reader2", {"content": ECG_REPORT}).json()
    critical = {**ECG_REPORT, "rate": 38, "rhythm": "三度房室传导阻滞", "conclusion": "三度房室传导阻滞，心室率38次/分",
                "critical": {"code": "LL", "on": "rate", "note": "心室率过缓"}}
    not_reason = reading.post(f"/api/reading/reports/{signed['report']['id']}/amend", "reader2",
                              {"content": critical, "reason": " "})
    assert not_reason.status_code == 422
    stranger = reading.post(f"/api/reading/reports/{signed['report']['id']}/amend", "reader",
                            {"content": critical, "reason": "复核"})
    assert stranger.status_code == 403
    amended = reading.post(f"/api/reading/reports/{signed['report']['id']}/amend", "reader2",
                           {"content": critical, "reason": "复核后更正心律"})
    assert amended.status_code == 200, amended.text
    versions = amended.json()["report"]["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "final"), (2, "amended")]
    assert versions[0]["content"]["conclusion"] == "窦性心律，正常心电图"  # the first version is kept
    resource = versions[1]["resource"]
    assert resource["status"] == "amended" and resource["meta"]["tag"][0]["code"] == "critical"
    with reading.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ResultOutboxRow)) == 2
        rows = list(session.scalars(select(ResultOutboxRow.value)))
    assert all(isinstance(v, bytes) for v in rows)
    assert json.dumps(resource, ensure_ascii=False).count("LL") == 0  # the flag is on the Observation
    rate = next(o for o in _observations(reading, signed["report"]["id"], 2) if o["id"].endswith("-rate"))
    assert rate["interpretation"][0]["coding"][0]["code"] == "LL"


def _observations(reading: Reading, report_id: str, version: int) -> list[dict]:
    with reading.db.reading() as session:
        row = session.get(ReadingReportVersion, (report_id, version))
        return json.loads(row.observations)


def test_other_task_searches_are_the_shared_records(reading: Reading) -> None:
    answer = reading.get("/fhir/Task", status="requested")
    assert answer.status_code == 200 and answer.json()["resourceType"] == "Bundle"
    mixed = reading.get("/fhir/Task", code="ecg-read,urn:hub:mpi|possible-match")
    assert mixed.status_code == 400
    assert reading.get("/fhir/Task/not-a-reading-task").status_code == 404


def test_a_referral_task_is_still_found_and_read_through_the_shared_record(reading: Reading) -> None:
    task = {"resourceType": "Task", "id": "th01-task-77", "status": "accepted", "intent": "order",
            "code": {"coding": [{"system": "urn:hub:task", "code": "referral-accept"}]},
            "focus": {"reference": "ServiceRequest/th01-ref-1"}, "for": {"reference": "Patient/th01-pat-1"}}
    event = Event("task-77", "referral", Source("th01", "test", "task-77"), BASE_TIME, BASE_TIME, "th01/1", task)
    with reading.db.transaction() as session:
        writer = RecordWriter(session)
        writer.apply(event)
        writer.finish()
    found = reading.get("/fhir/Task", code="urn:hub:task|referral-accept").json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["th01-task-77"]
    assert reading.get("/fhir/Task/th01-task-77").json()["status"] == "accepted"
    unknown = reading.get("/fhir/Task", code="referral-accept", colour="red")
    assert unknown.status_code == 400 and "colour" in unknown.json()["issue"][0]["diagnostics"]
