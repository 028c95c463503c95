"""Whatever a door acknowledges is storable and reaches every view of the patient it names
(read by id, `patient=` search, `$everything`), whichever door it came through, whichever order
the record store sees the Patient and its resources in (issue 8, defect 5)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, create_engine

from connectors.dicom.ingest import ingest_dicom
from connectors.his_db.connector import HisDbConnector
from consumers.record_store.writer import RecordWriter
from hub.app.api.app import create_app
from hub.core.blobs import FileBlobStore
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.errors import PermanentError
from hub.core.events import Event, PollResult
from hub.core.fhir_fields import IMAGE_ORIGIN
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.tools.demo.his_schemas import SCHEMAS
from tests.api.conftest import Community, auth
from tests.api.test_fhir_ingest import ingest, transaction  # noqa: F401 - the fixture
from tests.connectors.dicom_samples import ct_file
from tests.connectors.test_mllp import PV1, Listener, msa, msh
from tests.factories import patient_event
from tests.record_views import (
    CODEC,
    apply,
    apply_patients_last,
    assert_in_every_view,
    dead_letters,
    published,
    resources,
)

ORDERS: dict[str, Callable] = {"patient-first": apply, "patient-last": apply_patients_last}
LOINC = "http://loinc.org"


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    running = Listener(tmp_path)
    yield running
    running.close()


def _admin(community: Community) -> dict[str, str]:
    return auth(community.tokens["admin"])


# FHIR REST -----------------------------------------------------------------------------------------

def _fhir_record(mrn: str) -> list[dict]:
    """One patient's record with every resource type FHIR ingest accepts, as a member would post it."""
    subject = {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"}
    return [
        {"resourceType": "Patient", "identifier": [{"system": "urn:hub:facility:th01:mrn", "value": mrn}],
         "name": [{"text": "赵六", "family": "赵", "given": ["六"]}], "gender": "male", "birthDate": "1950-01-02"},
        {"resourceType": "Encounter", "identifier": [{"system": "urn:hub:facility:th01:visit", "value": f"V-{mrn}"}],
         "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": subject, "period": {"start": "2026-11-20T09:00:00+08:00"}},
        {"resourceType": "MedicationRequest", "identifier": [{"system": "urn:hub:facility:th01:rx", "value": f"R-{mrn}"}],
         "status": "active", "intent": "order", "subject": subject,
         "medicationCodeableConcept": {"coding": [{"system": "urn:hub:code:nhsa-drug", "code": "XJ01"}]}},
        {"resourceType": "Observation", "identifier": [{"system": "urn:hub:facility:th01:lab", "value": f"K-{mrn}"}],
         "status": "final", "code": {"coding": [{"system": LOINC, "code": "2823-3", "display": "钾"}]},
         "subject": subject, "valueQuantity": {"value": 6.8, "unit": "mmol/L"}},
        {"resourceType": "DiagnosticReport", "identifier": [{"system": "urn:hub:facility:th01:lab-report",
                                                              "value": f"D-{mrn}"}],
         "status": "final", "code": {"coding": [{"system": LOINC, "code": "24326-1"}]}, "subject": subject},
        {"resourceType": "ServiceRequest", "identifier": [{"system": "urn:hub:facility:th01:order", "value": f"E-{mrn}"}],
         "status": "active", "intent": "order", "code": {"coding": [{"system": LOINC, "code": "11524-6"}]},
         "subject": subject},
        {"resourceType": "ImagingStudy", "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:1.2.3.{len(mrn)}"}],
         "status": "available", "subject": subject},
        {"resourceType": "ServiceRequest", "identifier": [{"system": "urn:hub:facility:th01:referral",
                                                            "value": f"Z-{mrn}"}],
         "status": "active", "intent": "order", "subject": subject, "code": {"text": "上转心内科"},
         "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
         "performer": [{"reference": "Organization/cty01"}]},
        {"resourceType": "Task", "status": "requested", "intent": "order", "for": subject,
         "focus": {"reference": "urn:uuid:00000000-0000-0000-0000-000000000007"}},
    ]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("mrn", ["fhir-77", "Fx_77/b"], ids=["readable-id", "hashed-id"])
def test_fhir_every_type_in_one_transaction_reaches_every_view(ingest, community: Community, order: str,  # noqa: F811
                                                               mrn: str) -> None:
    client, outbox = ingest
    response = client.post("/fhir", json=transaction(*_fhir_record(mrn)), headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 200, response.text
    events = published(outbox)
    assert {r["resourceType"] for r in resources(events)} == {
        "Patient", "Encounter", "MedicationRequest", "Observation", "DiagnosticReport", "ServiceRequest",
        "ImagingStudy", "Task"}
    ORDERS[order](community.db, events)
    for resource in resources(events):
        assert_in_every_view(client, _admin(community), resource)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("mrn", ["obs-t1", "OBS-T1", "obs_t1"])
def test_a_lab_result_posted_on_its_own_reaches_its_patient(ingest, community: Community, order: str,  # noqa: F811
                                                            mrn: str) -> None:
    """The issue's case: the member's own patient (here registered over FHIR, by its own record
    number), then a potassium of 6.8 posted alone naming that Patient by the id the hub gave it."""
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    patient = _fhir_record(mrn)[0]
    created = client.post("/fhir/Patient", json=patient, headers=headers)
    assert created.status_code == 201, created.text
    observation = copy.deepcopy(_fhir_record(mrn)[3])
    observation["subject"] = {"reference": f"Patient/{created.json()['id']}"}
    posted = client.post("/fhir/Observation", json=observation, headers=headers)
    assert posted.status_code == 201, posted.text
    ORDERS[order](community.db, published(outbox))
    assert_in_every_view(client, _admin(community), posted.json())
    assert_in_every_view(client, _admin(community), created.json())


def test_a_result_for_a_patient_registered_over_mllp_reaches_it(ingest, community: Community,  # noqa: F811
                                                                listener: Listener) -> None:
    """Before the fix the hub lower-cased PID-3 `OBS-T1` into Patient th01-pat-obs-t1 but keyed it
    th01/OBS-T1, so an Observation naming that Patient was filed under th01/obs-t1, out of sight."""
    pid = "PID|1||OBS-T1^^^TH01^MR||钱^七||19600101|M"
    assert msa(listener.send("\r".join([msh("ADT^A04^ADT_A01", "V1"), "EVN|A04|20261123083000", pid, PV1])))[1] == "AA"
    apply(community.db, listener.events())
    (patient,) = [e.resource for e in listener.events() if e.event_type == "patient"]
    client, outbox = ingest
    observation = copy.deepcopy(_fhir_record("x")[3])
    observation["subject"] = {"reference": f"Patient/{patient['id']}"}
    posted = client.post("/fhir/Observation", json=observation, headers=auth(community.tokens["connector_th01"]))
    assert posted.status_code == 201, posted.text
    apply(community.db, published(outbox))
    assert_in_every_view(client, _admin(community), posted.json())


# MLLP ------------------------------------------------------------------------------------------------

def _mllp_record(pid3: str) -> list[str]:
    pid = f"PID|1||{pid3}^^^TH01^MR||孙^八||19700101|F"
    return [
        "\r".join([msh("ADT^A01^ADT_A01", "A1"), "EVN|A01|20261123083000", pid, PV1]),
        "\r".join([msh("ORM^O01", "O1"), pid, "ORC|NW|ECG-1|||||^^^^^S||20261123081000",
                   "OBR|1|ECG-1||11524-6^十二导联心电图^LN|||20261123081000"]),
        "\r".join([msh("RDE^O11", "R1"), pid, "ORC|NW|RX-1||||||||20261123081500", "RXE|1|XJ01^二甲双胍片^NHSA|0.5||g"]),
        "\r".join([msh("ORU^R01^ORU_R01", "L1"), pid,
                   "OBR|1|P1|F-1|2823-3^钾^LN|||20261123080000|||||||||||||||20261123090000|||F",
                   "OBX|1|NM|2823-3^钾^LN||6.8|mmol/L|3.5-5.5|HH|||F"]),
    ]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("pid3", ["000777", "Ab_777"], ids=["readable-id", "hashed-id"])
def test_mllp_every_type_reaches_every_view(community: Community, listener: Listener, order: str, pid3: str) -> None:
    for message in _mllp_record(pid3):
        assert msa(listener.send(message))[1] == "AA"
    events = listener.events()
    assert {r["resourceType"] for r in resources(events)} == {
        "Patient", "Encounter", "ServiceRequest", "MedicationRequest", "DiagnosticReport", "Observation"}
    ORDERS[order](community.db, events)
    for resource in resources(events):
        assert_in_every_view(community.client, _admin(community), resource)


# HIS database ----------------------------------------------------------------------------------------

def _his_database(tmp_path: Path, pat_id: str) -> str:
    url = f"sqlite:///{tmp_path / 'his.db'}"
    engine = create_engine(url)
    meta = MetaData()
    tables = SCHEMAS["vendor_a"](meta).tables
    meta.create_all(engine)
    changed = "2026-11-23T08:00:00.000000"
    with engine.begin() as conn:
        conn.execute(tables["pat_info"].insert(), [{
            "pat_id": pat_id, "name": "周九", "sex": "M", "birth_date": "1955-05-05", "id_no": None, "phone": None,
            "address": None, "village": None, "updated_at": changed}])
        conn.execute(tables["op_visit"].insert(), [{
            "visit_id": 501, "pat_id": pat_id, "visit_type": "O", "dept": "内科", "doctor": "李", "status": "finished",
            "start_time": "2026-11-23 08:00:00", "end_time": None, "diag_code": None, "diag_name": None,
            "updated_at": changed}])
        conn.execute(tables["rx_detail"].insert(), [{
            "rx_line_id": 601, "rx_no": "RX601", "visit_id": 501, "pat_id": pat_id, "drug_code": "WA-0001",
            "drug_name": "药", "dose": "1片", "freq": None, "days": 3, "qty": 3, "unit": "片",
            "prescribed_at": "2026-11-23 08:10:00", "updated_at": changed}])
        conn.execute(tables["lab_report"].insert(), [{
            "report_id": 701, "pat_id": pat_id, "visit_id": 501, "panel_code": "BMP",
            "reported_at": "2026-11-23 09:00:00", "status": "final", "updated_at": changed}])
        conn.execute(tables["lab_item"].insert(), [{
            "item_id": 801, "report_id": 701, "item_code": "K", "item_name": "钾", "value": "6.8", "unit": "mmol/L",
            "ref_low": "3.5", "ref_high": "5.5", "flag": None}])
        conn.execute(tables["ecg_order"].insert(), [{
            "order_id": 901, "pat_id": pat_id, "visit_id": 501, "priority": "urgent", "reason": "胸痛",
            "ordered_at": "2026-11-23 08:20:00", "status": "active", "updated_at": changed}])
    engine.dispose()
    return url


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("pat_id", ["P501", "p 501/x"], ids=["readable-id", "hashed-id"])
def test_his_db_rows_reach_every_view(community: Community, tmp_path: Path, order: str, pat_id: str) -> None:
    url = _his_database(tmp_path, pat_id)
    config = ConnectorConfig(name="th01-his", kind="his_db", facility_id="th01",
                             options={"database_url": url, "mapping": "vendor_a"})
    connector = HisDbConnector(config, HubSettings())
    settings = HubSettings(data_dir=tmp_path)
    outbox = Outbox(tmp_path / "his.db.outbox", "his")
    sink = Sink("th01-his", "th01", outbox, CODEC, settings)
    result = connector.poll({})
    assert not result.rejected, [r.reason for r in result.rejected]
    report = sink.accept(result)
    assert all(o.accepted for o in report.outcomes), [o.reason for o in report.outcomes]
    events = published(outbox)
    assert {r["resourceType"] for r in resources(events)} == {
        "Patient", "Encounter", "MedicationRequest", "DiagnosticReport", "Observation", "ServiceRequest"}
    ORDERS[order](community.db, events)
    for resource in resources(events):
        assert_in_every_view(community.client, _admin(community), resource)


# DICOM -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("patient_id", ["000888", "CT_888"], ids=["readable-id", "hashed-id"])
def test_a_dicom_study_reaches_the_patient_another_door_registered(community: Community, listener: Listener,
                                                                   tmp_path: Path, order: str, patient_id: str) -> None:
    """A study joins the Patient the member registered over HL7 (same PatientID and PID-3, so the same id
    at both doors). The study also brings that Patient from its patient module, which fills the gap until
    the registration arrives and never replaces it, in either order."""
    result = ingest_dicom(ct_file(patient_id=patient_id), "ct.dcm", "th01", FileBlobStore(tmp_path / "blobs"))
    assert result.events, [r.reason for r in result.rejected]
    outbox = Outbox(tmp_path / "dicom.db", "dicom")
    Sink("dicom", "th01", outbox, CODEC, HubSettings(data_dir=tmp_path)).accept(result)
    pid = f"PID|1||{patient_id}^^^TH01^MR||王^秀英||19920610|F"
    assert msa(listener.send("\r".join([msh("ADT^A04^ADT_A01", "D1"), "EVN|A04|20261123083000", pid, PV1])))[1] == "AA"
    studies = published(outbox)
    registered = [e for e in listener.events() if e.event_type == "patient"]
    if order == "patient-first":
        apply(community.db, registered)
        apply(community.db, studies)
    else:
        apply(community.db, studies)
        apply(community.db, registered)
    assert {r["resourceType"] for r in resources(studies)} == {"Patient", "ServiceRequest", "ImagingStudy"}
    for resource in resources(studies):
        if resource["resourceType"] != "Patient":
            assert_in_every_view(community.client, _admin(community), resource)
    [from_images] = [r for r in resources(studies) if r["resourceType"] == "Patient"]
    stored = community.client.get(f"/fhir/Patient/{from_images['id']}", headers=_admin(community)).json()
    assert IMAGE_ORIGIN not in stored["meta"].get("tag", []), "the image's patient module replaced the registration"
    assert stored["meta"]["versionId"] == ("1" if order == "patient-first" else "2")


def test_stow_rs_stores_what_it_acknowledges_and_refuses_what_it_cannot(community: Community, listener: Listener,
                                                                       tmp_path: Path) -> None:
    settings = community.client.app.state.settings
    outbox = Outbox(tmp_path / "stow.db", "dicom")
    sink = Sink("dicom", "th01", outbox, CODEC, settings, facilities={"th01"})
    client = TestClient(create_app(settings, community.db, community.runtime, {"dicom": sink}))
    boundary = "hub-boundary-7"
    parts = [ct_file(patient_id="ST_1"), ct_file(patient_id="9" * 65)]
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n" for part in parts
    ) + f"--{boundary}--\r\n".encode()
    headers = {**auth(community.tokens["connector_th01"]),
               "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'}
    answer = client.post("/dicomweb/studies", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    failed = answer.json()["00081198"]["Value"]
    assert len(failed) == 1 and "over the 64-character limit" in failed[0]["00081196"]["Value"][0]
    pid = "PID|1||ST_1^^^TH01^MR||王^秀英||19920610|F"
    assert msa(listener.send("\r".join([msh("ADT^A04^ADT_A01", "ST1"), "EVN|A04|20261123083000", pid, PV1])))[1] == "AA"
    apply(community.db, published(outbox))
    apply(community.db, listener.events())
    for resource in resources(published(outbox)):
        assert_in_every_view(client, _admin(community), resource)


# Limits: acknowledged means storable ----------------------------------------------------------------

def test_an_identifier_the_record_cannot_hold_is_refused_at_the_fhir_door(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    patient = copy.deepcopy(_fhir_record("lim-1")[0])
    patient["identifier"].append({"system": "urn:oid:2.16.156.10011.1.5", "value": "9" * 300})
    response = client.post("/fhir/Patient", json=patient, headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Patient.identifier[1].value"]
    assert "300 characters, over the 100-character limit" in issue["diagnostics"]
    bundle = client.post("/fhir", json=transaction(patient), headers=auth(community.tokens["connector_th01"]))
    assert bundle.status_code == 422
    assert bundle.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.identifier[1].value"]
    assert outbox.count() == 0


def test_a_record_number_the_record_cannot_hold_is_refused_at_the_fhir_door(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    patient = copy.deepcopy(_fhir_record("9" * 65)[0])
    response = client.post("/fhir/Patient", json=patient, headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Patient.identifier[0].value"]
    assert "65 characters, over the 64-character limit" in issue["diagnostics"]
    assert outbox.count() == 0


def test_a_long_identifier_within_the_limit_is_stored_and_found(ingest, community: Community) -> None:  # noqa: F811
    """100 characters: on PostgreSQL it fits, on SQLite it is found by its whole value (nothing is cut)."""
    client, outbox = ingest
    patient = copy.deepcopy(_fhir_record("lim-2")[0])
    patient["identifier"].append({"system": "urn:oid:2.16.156.10011.1.5", "value": "8" * 100})
    assert client.post("/fhir/Patient", json=patient, headers=auth(community.tokens["connector_th01"])).status_code == 201
    apply(community.db, published(outbox))
    found = client.get("/fhir/Patient", params={"identifier": f"urn:oid:2.16.156.10011.1.5|{'8' * 100}"},
                       headers=_admin(community))
    assert found.status_code == 200 and found.json()["total"] >= 1


def test_a_record_number_the_record_cannot_hold_is_refused_over_mllp(community: Community, listener: Listener) -> None:
    pid = f"PID|1||{'7' * 120}^^^TH01^MR||王^秀英||19920610|F"
    ack = listener.send("\r".join([msh("ADT^A04^ADT_A01", "LONG1"), "EVN|A04|20261123083000", pid, PV1]))
    assert msa(ack)[1] == "AE"
    assert "120 characters, over the 64-character limit" in msa(ack)[3]
    assert listener.events() == []
    assert len(listener.dead_letters()) == 1  # kept, with its reason
    ok = listener.send("\r".join([msh("ADT^A04^ADT_A01", "LONG2"), "EVN|A04|20261123083000",
                                  pid.replace("7" * 120, "7" * 64), PV1]))
    assert msa(ok)[1] == "AA"
    apply(community.db, listener.events())
    for resource in resources(listener.events()):
        assert_in_every_view(community.client, _admin(community), resource)


def test_the_sink_refuses_what_the_record_cannot_hold_for_every_connector(tmp_path: Path) -> None:
    """The sink is the door every connector writes through: an event over a limit is a dead letter
    with the reason, never an acknowledged event that fails later in the record store."""
    event = patient_event("th01", "1")
    long_code = Event(event.event_id, event.event_type, event.source, event.occurred_at, event.recorded_at,
                      event.patient_key, {**event.resource, "identifier": [{"system": "urn:x", "value": "v" * 101}]})
    outbox = Outbox(tmp_path / "o.db", "o")
    sink = Sink("his", "th01", outbox, CODEC, HubSettings(data_dir=tmp_path))
    report = sink.accept(PollResult(events=[long_code]))
    assert not report.outcomes[0].accepted
    assert "101 characters, over the 100-character limit" in (report.outcomes[0].reason or "")
    assert len(dead_letters(outbox)) == 1


def test_the_record_store_does_not_cut_what_it_cannot_hold(community: Community) -> None:
    """Defence in depth: an over-long identifier that reached the store anyway (an old outbox) is a
    dead letter with its reason, not a row cut to fit and never found."""
    event = patient_event("th01", "2")
    event.resource["identifier"].append({"system": "urn:x", "value": "v" * 101})
    with pytest.raises(PermanentError, match="over the 100-character limit"), community.db.transaction() as session:
        writer = RecordWriter(session)
        writer.apply(event)
        writer.finish()
