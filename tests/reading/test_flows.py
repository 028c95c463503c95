"""The rest of the loop: real DICOM files matched by accession number, second readings, cancelled and
reprioritised orders, leads reassigning, clocks that flag and escalate, the figures, and Task searches
by patient across members."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import select, update

from connectors.dicom.ingest import ingest_dicom
from consumers.reading.models import ReadingItem, ReadingItemLog
from consumers.reading.sweep import Sweeper
from consumers.reading.worklist import Actor, ItemConflict, claim
from hub.core.blobs import FileBlobStore
from hub.core.events import utcnow
from tests.connectors.dicom_samples import ct_file, ecg_file
from tests.reading.conftest import Reading
from tests.reading.factories import ECG_REPORT, arrival, order

IMAGING = {"findings": "双肺纹理清晰，未见实质性病变。", "conclusion": "胸部CT平扫未见明显异常"}


def test_real_dicom_files_match_their_orders_by_accession_and_uid(reading: Reading, tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    ct = bytearray(ct_file(patient_id="1", description="胸部CT"))
    ecg = ingest_dicom(ecg_file(patient_id="1"), "ecg.dcm", "th01", blobs).events[0]
    assert ecg.related[0]["resourceType"] == "ImagingStudy"
    reading.feed([ecg])  # no order: it waits, visible, with its waveform
    (waiting,) = reading.get("/api/reading/unordered", centre="ecg").json()["items"]
    assert waiting["waveform"].startswith("blob:sha256/") and waiting["patient_id"] == "th01-pat-1"

    event = ingest_dicom(bytes(ct), "ct.dcm", "th01", blobs).events[0]
    study = event.related[0]
    study["identifier"].append({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                     "code": "ACSN"}]},
                                "system": "urn:hub:facility:th01:accession", "value": "CT-2026-77"})
    reading.feed([order(number="R77", ecg=False, accession="CT-2026-77"), event])
    (item,) = reading.get("/api/reading/worklist", centre="imaging", state="ready").json()["items"]
    assert item["id"] == "rd-th01-sr-R77" and item["study_id"] == study["id"] and item["study_uid"]


def test_a_pathology_report_is_final_only_after_a_second_reader(reading: Reading) -> None:
    slide = arrival(uid="8.8.8", ecg=False, based_on="th01-sr-P1")
    slide.related[0]["modality"] = [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "SM"}]
    pathology = order(number="P1", ecg=False)
    pathology.resource["category"] = [{"text": "病理"}]
    pathology.resource["code"] = {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "SM"}],
                                  "text": "胃镜活检病理"}
    reading.feed([pathology, slide])
    item = "rd-th01-sr-P1"
    assert reading.get("/fhir/Task", code="pathology-read", status="ready").json()["total"] == 1
    assert reading.post(f"/api/reading/items/{item}/claim").status_code == 200
    first = reading.post(f"/api/reading/items/{item}/report/sign", body={"content": IMAGING}).json()
    assert first["status"] == "preliminary" and first["event_id"] is None  # nothing leaves yet
    assert first["item"]["state"] == "ready" and first["item"]["stage"] == "second"
    own = reading.post(f"/api/reading/items/{item}/claim")
    assert own.status_code == 409 and "another reader" in own.json()["issue"][0]["diagnostics"]
    assert reading.post(f"/api/reading/items/{item}/claim", "reader2").status_code == 200
    confirmed = reading.post(f"/api/reading/items/{item}/report/confirm", "reader2").json()
    assert confirmed["status"] == "final" and confirmed["version"] == 2
    resource = confirmed["report"]["versions"][-1]["resource"]
    assert resource["resultsInterpreter"] == [{"display": "reader-zhang"}, {"display": "reader-li"}]
    assert resource["code"]["text"] == "胃镜活检病理" and resource["category"][0]["coding"][0]["code"] == "SP"
    with reading.db.reading() as session:
        actions = list(session.scalars(select(ReadingItemLog.action).where(ReadingItemLog.item_id == item)))
    assert "second-confirmed" in actions


def test_an_ecg_reader_may_ask_for_a_second_reading_which_amends(reading: Reading) -> None:
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    item = "rd-th01-sr-E1"
    reading.post(f"/api/reading/items/{item}/claim")
    asked = reading.post(f"/api/reading/items/{item}/report/sign",
                         body={"content": ECG_REPORT, "second_reading": True}).json()
    assert asked["status"] == "preliminary"
    reading.post(f"/api/reading/items/{item}/claim", "reader2")
    changed = {**ECG_REPORT, "conclusion": "窦性心律，左心室高电压"}
    final = reading.post(f"/api/reading/items/{item}/report/sign", "reader2", {"content": changed}).json()
    assert final["status"] == "final" and final["report"]["versions"][-1]["resource"]["conclusion"] == changed["conclusion"]


def test_a_revoked_order_cancels_its_item_and_a_new_priority_moves_the_clock(reading: Reading) -> None:
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    before = reading.get("/api/reading/items/rd-th01-sr-E1").json()["item"]["due_at"]
    reading.feed([order(number="E1", priority="stat")])
    after = reading.get("/api/reading/items/rd-th01-sr-E1").json()["item"]
    assert after["priority"] == "stat" and after["due_at"] < before
    reading.feed([order(number="E1", status="revoked")])
    assert reading.get("/api/reading/items/rd-th01-sr-E1").json()["item"]["state"] == "cancelled"
    refused = reading.post("/api/reading/items/rd-th01-sr-E1/claim")
    assert refused.status_code == 409 and "cancelled" in refused.json()["issue"][0]["diagnostics"]


def test_a_waiting_item_cannot_be_claimed_and_unknown_ones_are_404(reading: Reading) -> None:
    reading.feed([order(number="E1")])
    waiting = reading.post("/api/reading/items/rd-th01-sr-E1/claim")
    assert waiting.status_code == 409 and "not ready" in waiting.json()["issue"][0]["diagnostics"]
    assert reading.post("/api/reading/items/rd-nothing/claim").status_code == 404
    assert reading.get("/api/reading/worklist", centre="dental").status_code == 400
    assert reading.get("/api/reading/worklist", limit=0).status_code == 400
    assert reading.get("/fhir/Task", code="ecg-read", colour="red").status_code == 400


def test_a_lead_reassigns_and_a_reader_may_not(reading: Reading) -> None:
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    item = "rd-th01-sr-E1"
    reading.post(f"/api/reading/items/{item}/claim")
    assert reading.post(f"/api/reading/items/{item}/reassign", "reader2", {"to": "reader-li"}).status_code == 403
    moved = reading.post(f"/api/reading/items/{item}/reassign", "lead", {"to": "reader-li"})
    assert moved.status_code == 200 and moved.json()["holder"] == "reader-li"
    assert reading.post(f"/api/reading/items/{item}/renew").status_code == 409
    assert reading.post(f"/api/reading/items/{item}/release", "reader2").json()["state"] == "ready"


def test_the_sweep_flags_at_risk_then_escalates_and_counts(reading: Reading) -> None:
    reading.feed([order(number="E1", priority="stat"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    sweeper = Sweeper(reading.db, reading.client.app.state.reading_config)
    with reading.db.reading() as session:
        item = session.get(ReadingItem, "rd-th01-sr-E1")
        at_risk, due, duty = item.at_risk_at, item.due_at, item.duty_at
    assert (due - at_risk) == timedelta(minutes=2) and (duty - due) == timedelta(minutes=5)  # stat: 10 min
    assert sweeper.once(at_risk + timedelta(seconds=1)).at_risk == 1
    breaches = _sample("hub_reading_breaches_total", centre="ecg", priority="stat")
    result = sweeper.once(due + timedelta(seconds=1))
    assert result.breached == 1 and result.to_duty == 0
    item = reading.get("/api/reading/items/rd-th01-sr-E1").json()["item"]
    assert item["escalation"] == 1 and item["escalated_to"] == "ecg-backup"
    assert sweeper.once(duty + timedelta(seconds=1)).to_duty == 1
    item = reading.get("/api/reading/items/rd-th01-sr-E1").json()["item"]
    assert item["escalation"] == 2 and item["escalated_to"] == "ecg-duty-expert" and item["clock"] == "breached"
    assert sweeper.once(duty + timedelta(seconds=2)).breached == 0  # counted once
    assert _sample("hub_reading_breaches_total", centre="ecg", priority="stat") == breaches + 1
    stats = reading.get("/api/reading/stats").json()
    assert stats["turnaround"]["ecg"]["breaches"] == 1
    metrics = reading.client.get("/metrics").text
    assert 'hub_reading_queue_depth{centre="ecg",priority="stat",state="ready"} 1.0' in metrics


def test_figures_after_reports(reading: Reading) -> None:
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    reading.post("/api/reading/items/rd-th01-sr-E1/claim")
    reading.post("/api/reading/items/rd-th01-sr-E1/report/sign", body={"content": ECG_REPORT})
    with reading.db.transaction() as session:  # it became ready 20 minutes before the report
        session.execute(update(ReadingItem).values(ready_at=utcnow() - timedelta(minutes=20)))
    Sweeper(reading.db, reading.client.app.state.reading_config).once()
    stats = reading.get("/api/reading/stats").json()
    assert stats["turnaround"]["ecg"]["reports"] == 1 and 1190 < stats["turnaround"]["ecg"]["p50_s"] < 1300
    assert {"centre": "ecg", "reader": "reader-zhang", "status": "final", "count": 1} in stats["reports_per_reader"]
    assert stats["turnaround"]["ecg"]["modalities"]["ECG"]["reports"] == 1
    assert _sample("hub_reading_turnaround_quantile_seconds", centre="ecg", modality="all", quantile="0.9") > 1190
    assert _sample("hub_reading_turnaround_quantile_seconds", centre="ecg", modality="ECG", quantile="0.5") > 1190


def test_tasks_of_one_person_from_any_member(reading: Reading) -> None:
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1"),
                  order(facility="cty01", local="A77", number="E9"),
                  arrival(facility="cty01", local="A77", uid="1.2.3.9", based_on="cty01-sr-E9"),
                  order(facility="th02", local="9", number="E5"),
                  arrival(facility="th02", local="9", uid="1.2.3.5", based_on="th02-sr-E5")])
    for who in ("cty01-pat-A77", reading.community.golden, f"Patient/{reading.community.golden}"):
        found = reading.get("/fhir/Task", code="ecg-read", patient=who).json()
        assert {e["resource"]["id"] for e in found["entry"]} == {"rd-th01-sr-E1", "rd-cty01-sr-E9"}, who
    assert reading.get("/fhir/Task", code="ecg-read", patient="nobody").json()["total"] == 0
    own = reading.get("/fhir/Task", "connector_th01", code="ecg-read").json()
    assert {e["resource"]["id"] for e in own["entry"]} == {"rd-th01-sr-E1"}  # a member sees its own orders


def _sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return float(value) if value is not None else 0.0


def test_two_readers_claiming_at_once_one_wins(reading: Reading) -> None:
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    config, barrier, outcomes = reading.client.app.state.reading_config, threading.Barrier(2), []

    def take(name: str) -> None:
        barrier.wait()
        try:
            with reading.db.transaction() as session:
                claim(session, "rd-th01-sr-E1", Actor(name), config, utcnow())
            outcomes.append(name)
        except ItemConflict as exc:
            outcomes.append(f"refused: {exc.message}")

    threads = [threading.Thread(target=take, args=(name,)) for name in ("reader-a", "reader-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [o for o in outcomes if not o.startswith("refused")]
    assert len(winners) == 1 and len(outcomes) == 2
    (refusal,) = [o for o in outcomes if o.startswith("refused")]
    assert f"held by {winners[0]}" in refusal
