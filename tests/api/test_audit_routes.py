"""Auditing is structural: every registered route is called here, and each one that answers with
patient data must leave one audit row naming who, from where, and every patient in the answer.

A new route fails `test_every_route_is_walked` until it gets a recipe below that says what it
returns, so no route can be added without being checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consumers.critical_values.notices import notice_id
from consumers.delivery.models import OutboundMessage
from consumers.drug_supply.hierarchy import save_parents
from consumers.indicators.consumer import IndicatorConsumer
from consumers.pharmacy.models import PharmacyLocalCode, PharmacyReview
from consumers.reading import reports as reading_reports
from consumers.reading import worklist as reading_worklist
from consumers.reading.consumer import ReadingConsumer
from consumers.reading.templates import Content
from consumers.record_store.bulk_export import claim_next, run_job
from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.models import MatchReview, PatientLink
from hub.app.api import accounts
from hub.app.api.app import create_app
from hub.core.blobs import FileBlobStore
from hub.core.connector import ANY_FACILITY
from hub.core.consumer import Delivery
from hub.core.db.models import AuditLog, AuditPatient, DeadLetter
from hub.core.events import utcnow
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.web.hooks import patients_in
from tests.api.conftest import Community, auth
from tests.api.test_referrals_api import load_referrals
from tests.connectors.dicom_samples import ecg_file
from tests.consumers.referral_factories import deliveries
from tests.consumers.test_recognition import AT, DCM, result_event, store
from tests.critical_values.factories import Clock, apply, bound_consumer, lab_event, potassium
from tests.drug_supply import factories as supply_factories
from tests.ecg.helpers import apply as apply_ecg
from tests.ecg.helpers import ecg_event
from tests.ecg.helpers import ecg_file as ecg_study_file
from tests.factories import BASE_TIME, encounter_event, patient_event
from tests.image_archive.conftest import ingest as ingest_images
from tests.image_archive.samples import ct_series
from tests.pharmacy import factories as pharmacy_factories
from tests.reading.factories import ECG_REPORT, arrival, order

# Strings of the fixture's people that must never appear in an answer that is not audited.
PERSONAL = ("王秀英", "欧阳娜娜", "110101199003074573", "13812345678", "th01-pat-1", "cty01-pat-A77", "th02-pat-9")


@dataclass
class World:
    community: Community
    client: TestClient
    blob: str
    dead_letter: str
    reviews: list[str]
    state: dict[str, Any] = field(default_factory=dict)

    def h(self, role: str) -> dict[str, str]:
        return auth(self.community.tokens[role])


@pytest.fixture
def world(community: Community, tmp_path: Path) -> World:
    settings = community.client.app.state.settings
    codec = EventCodec(FileSchemaRegistry())
    sinks = {
        "fhir_rest": Sink("fhir-rest", "hub", Outbox(tmp_path / "fhir.db", "fhir-rest"), codec, settings,
                          facilities={"th01", "th02", "cty01"}),
        "dicom": Sink("dicom", "cty01", Outbox(tmp_path / "dicom.db", "dicom"), codec, settings,
                      facilities=ANY_FACILITY),
    }
    client = TestClient(create_app(settings, community.db, community.runtime, sinks))
    # A stored ECG waveform, referenced by an ImagingStudy of th01-pat-1.
    blob = FileBlobStore(settings.data_dir / "blobs").put(b'{"leads": []}', "application/json").sha256
    study = result_event("th01", "1", AT - timedelta(days=1), rtype="ImagingStudy", code=(DCM, "ECG"))
    study.resource["extension"] = [{"url": "urn:hub:blob:ecg", "valueString": f"blob:sha256/{blob}"}]
    # The fixture's person at a village clinic, day and month of birth swapped: a possible match.
    village = patient_event("vc03", "7", name="Wang Xiuying", resident_id=None, phone="13900000000")
    village.resource["name"] = [{"text": "Wang Xiuying"}]
    village.resource["birthDate"] = "1990-07-03"
    store(community.db, [study])
    with community.db.transaction() as session:
        RecordStoreConsumer().apply_batch(session, [Delivery("t", 0, 0, None, None, (), 0, village)])
        review = session.scalars(select(MatchReview)).one()
        # A second review of the same pair, to reject.
        session.add(MatchReview(id="mpi-second", patient_key=review.patient_key, candidate_key=review.candidate_key,
                                candidate_community_id=review.candidate_community_id, score=review.score,
                                explanation=review.explanation, status="requested",
                                rules_version=review.rules_version))
        accounts.create_user(session, "nurse-wu", "correct horse battery", "clinician", "cty01")
        payload = b'{"resourceType": "Encounter", "subject": {"reference": "Patient/th01-pat-1"}}'
        session.add(DeadLetter(id="dl-1", origin="th01-his", stage="map", reason="bad row", payload=payload,
                               facility_id="th01"))
        session.add(OutboundMessage(message_id="M1", event_id="e1", event_type="diagnostic_report",
                                    destination="th01/mllp", facility_id="th01", patient_key="th01/1",
                                    resource="DiagnosticReport/cty01-dr-1", content_type="x-application/hl7-v2+er7",
                                    body=b"MSH|", state="refused", attempts=1, last_error="AE: unknown test"))
    load_referrals(community)
    # A critical potassium of th01-pat-1: an open critical-value notice for th01.
    apply(bound_consumer(settings, community.db, Clock(BASE_TIME)), community.db, lab_event([potassium(7.2)]),
          lab_event([potassium(1.9, n="k2")], report="2"))
    # A CT slice of th01-pat-1 in the image archive, for the DICOMweb routes.
    [image] = ingest_images(community, ct_series(1, patient_id="1"))
    series = image.related[0]["series"][0]
    uids = {"study": image.related[0]["identifier"][0]["value"].removeprefix("urn:oid:"), "series": series["uid"],
            "instance": series["instance"][0]["uid"]}
    listed = client.get("/api/mpi/reviews", headers=auth(community.tokens["clinician"])).json()["items"]
    return World(community, client, blob, "dl-1", sorted(item["id"] for item in listed), {"image": uids})


Recipe = Callable[[World], tuple[httpx.Response, set[str] | None]]
NOT_AUDITED = None  # the answer holds no patient data: no audit row


def _get(path: str, role: str | None = None, expect: set[str] | None = NOT_AUDITED, **params: Any) -> Recipe:
    return lambda w: (w.client.get(path, params=params, headers=w.h(role) if role else {}), expect)


def _post(path: str | Callable[[World], str], body: Any | Callable[[World], Any], role: str,
          expect: set[str] | None, keep: str | None = None) -> Recipe:
    def run(w: World) -> tuple[httpx.Response, set[str] | None]:
        url = path(w) if callable(path) else path
        payload = body(w) if callable(body) else body
        response = w.client.post(url, json=payload, headers=w.h(role))
        if keep and response.status_code < 400:
            w.state[keep] = response.json()
        return response, expect

    return run


def _stow(w: World) -> tuple[httpx.Response, set[str] | None]:
    headers = {**w.h("connector_th01"), "Content-Type": "application/dicom"}
    return w.client.post("/dicomweb/studies", content=ecg_file(patient_id="501"), headers=headers), {"th01-pat-501"}


def _image(path: str, accept: str = "*/*", role: str = "reader") -> Recipe:
    """A DICOMweb read of the archive's CT slice of th01-pat-1; `path` names {study}, {series}, {instance}."""
    return lambda w: (w.client.get("/dicomweb" + path.format(**w.state["image"]),
                                   headers={**w.h(role), "Accept": accept}), {"th01-pat-1"})
def _ecg(suffix: str) -> Recipe:
    def run(w: World) -> tuple[httpx.Response, set[str] | None]:
        if "ecg" not in w.state:  # an ECG of th01-pat-1, measured by the ECG consumer
            settings = w.community.client.app.state.settings
            event = ecg_event(settings.data_dir, ecg_study_file(patient="1"))
            apply_ecg(w.community.db, settings, event)
            w.state["ecg"] = event.related[0]["id"]
        return w.client.get(f"/api/ecg/studies/{w.state['ecg']}{suffix}", headers=w.h("reader")), {"th01-pat-1"}

    return run


def _login(w: World) -> tuple[httpx.Response, set[str] | None]:
    return w.client.post("/api/login", json={"username": "nurse-wu", "password": "correct horse battery"}), None


def _th02_community(w: World) -> str:
    with w.community.db.sessions() as session:  # not over HTTP: that would be audited too
        return str(session.scalars(select(PatientLink.community_patient_id)
                                   .where(PatientLink.source_patient_id == "th02-pat-9")).one())


def _refused(w: World) -> int:
    with w.community.db.sessions() as session:
        return int(session.scalars(select(OutboundMessage.id).where(OutboundMessage.message_id == "M1")).one())
def _seed_reading(w: World) -> None:
    """Reading items of th01-pat-1: E1 to claim and sign, E2 signed once and waiting for a second reading,
    and a study without an order."""
    if "reading" in w.state:
        return
    app = w.client.app
    consumer = ReadingConsumer(app.state.settings)
    events = [order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1"), order(number="E2"),
              arrival(uid="1.2.3.2", based_on="th01-sr-E2"), arrival(uid="7.7.7")]
    config, now = app.state.reading_config, utcnow()
    with w.community.db.transaction() as session:
        for event in events:
            consumer.apply(session, Delivery("t", 0, 0, None, None, (), 0, event))
        session.flush()
        first = reading_worklist.Actor("reader-li")
        reading_worklist.claim(session, "rd-th01-sr-E2", first, config, now)
        reading_reports.sign(session, "rd-th01-sr-E2", first, Content.model_validate(ECG_REPORT), config,
                             app.state.results, "cty01", now, ask_second=True)
    w.state["reading"] = True


def _reading(method: str, path: str, role: str, expect: set[str] | None, body: Any = None) -> Recipe:
    def run(w: World) -> tuple[httpx.Response, set[str] | None]:
        _seed_reading(w)
        return w.client.request(method, path, json=body, headers=w.h(role)), expect

    return run


def _seed_pharmacy(w: World) -> None:
    """th01-pat-1's ibuprofen held against the warfarin the county hospital gave the same person, a local
    drug code waiting for its mapping, and village vc01's stock (supplied by th01)."""
    if "pharmacy" in w.state:
        return
    settings, db = w.client.app.state.settings, w.community.db
    pharmacy = pharmacy_factories.bound_consumer(settings, db, utcnow)
    pharmacy_factories.apply(pharmacy, db, pharmacy_factories.prescription(
        "9", pharmacy_factories.coded(pharmacy_factories.WARFARIN), facility="cty01", local_id="A77", dose=2.5,
        unit="mg", per_day=1))
    pharmacy_factories.apply(pharmacy, db, pharmacy_factories.prescription(
        "2", pharmacy_factories.coded(pharmacy_factories.IBUPROFEN), dose=0.3, per_day=2),
        pharmacy_factories.prescription("3", pharmacy_factories.local("th01", "YP-1", "本院合剂")),
        pharmacy_factories.allergy("1", "J01C", "青霉素类", facility="cty01", local_id="A77"))
    with db.transaction() as session:
        save_parents(session, {"vc01": "th01", "th01": "cty01"})
    supply = supply_factories.bound_consumer(settings, db, utcnow)
    now = utcnow()
    supply_factories.apply(supply, db, *[supply_factories.stock_event(f, f"{f}-s", "snapshot", n, now - timedelta(days=20))
                                         for f, n in (("vc01", 30), ("th01", 3000))],
                           *[supply_factories.stock_event("vc01", f"vc01-d{i}", "dispense", 1, now - timedelta(days=i))
                             for i in range(1, 15)])
    with db.sessions() as session:
        w.state["review"] = session.scalars(select(PharmacyReview.id).where(PharmacyReview.status == "ready")).first()
        w.state["code"] = session.scalar(select(PharmacyLocalCode.id))
    w.state["pharmacy"] = True


def _pharmacy(method: str, path: str | Callable[[World], str], role: str, expect: set[str] | None,
              body: Any = None, keep: str | None = None) -> Recipe:
    def run(w: World) -> tuple[httpx.Response, set[str] | None]:
        _seed_pharmacy(w)
        response = w.client.request(method, path(w) if callable(path) else path, json=body, headers=w.h(role))
        if keep and response.status_code < 400:
            w.state[keep] = response.json()
        return response, expect

    return run




def _indicators(method: str, path: str, expect: set[str] | None, content: bytes | None = None) -> Recipe:
    """The indicators, with th01's visit of 2026-11-24 counted (the world's encounter, applied to their consumer)."""
    def run(w: World) -> tuple[httpx.Response, set[str] | None]:
        if "indicators" not in w.state:
            with w.community.db.transaction() as session:
                IndicatorConsumer().apply_batch(session, deliveries([encounter_event("th01", "1", visit=1)]))
            w.state["indicators"] = True
        headers = {**w.h("admin"), **({"content-type": "text/csv"} if content else {})}
        return w.client.request(method, path, content=content, headers=headers), expect

    return run


ASYNC = {"Prefer": "respond-async"}
VISIT = {"resourceType": "Encounter", "id": "th01-enc-1", "status": "cancelled", "subject": {"reference": "Patient/th01-pat-1"},
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}


def _export_patients(w: World) -> tuple[httpx.Response, set[str] | None]:
    response = w.client.get("/fhir/Patient/$export?_type=Patient", headers={**w.h("reader"), **ASYNC})
    w.state["export"] = response.headers["content-location"].rsplit("/", 1)[1]
    return response, set()


def _exported(w: World) -> str:
    """The reader's Patient export, completed here rather than by the worker."""
    while (job_id := claim_next(w.community.db)) is not None:
        run_job(w.community.db, w.client.app.state.settings.data_dir, job_id)
    return str(w.state["export"])


GOLDEN = "golden"  # replaced by the community patient's id
PERSON = {GOLDEN, "th01-pat-1", "cty01-pat-A77"}
MATCH = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
    "resourceType": "Patient", "name": [{"text": "王秀英"}], "birthDate": "1990-03-07", "gender": "female",
    "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": "110101199003074573"}]}}]}
NEW_PATIENT = {"resourceType": "Patient", "identifier": [{"system": "urn:hub:facility:th01:mrn", "value": "88001"}],
               "name": [{"text": "刘德华"}], "gender": "male", "birthDate": "1961-09-27"}
BATCH = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "POST", "url": "Encounter"},
         "resource": {"resourceType": "Encounter", "status": "finished",
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                      "identifier": [{"system": "urn:hub:facility:th01:visit", "value": "v-77"}],
                      "subject": {"reference": "Patient/th01-pat-1"}}}]}

CRITICAL = notice_id("th01", "lab", "DiagnosticReport/th01-dr-1")  # the world's critical-value notices
CRITICAL_2 = notice_id("th01", "lab", "DiagnosticReport/th01-dr-2")
REPLY = {"resourceType": "Communication", "status": "completed", "inResponseTo": [{"reference": f"Communication/{CRITICAL_2}"}],
         "sender": {"display": "李娜"}, "payload": [{"contentString": "已通知医师"}]}

# (method, path) -> how to call it and the patients its answer must be audited with; called in this order.
RECIPES: dict[tuple[str, str], Recipe] = {
    ("GET", "/openapi.json"): _get("/openapi.json"),
    ("GET", "/docs"): _get("/docs"),
    ("GET", "/docs/oauth2-redirect"): _get("/docs/oauth2-redirect"),
    ("GET", "/redoc"): _get("/redoc"),
    ("GET", "/healthz"): _get("/healthz"),
    ("GET", "/fhir/metadata"): _get("/fhir/metadata"),
    ("GET", "/readyz"): _get("/readyz"),
    ("GET", "/metrics"): _get("/metrics"),
    ("GET", "/"): _get("/"),
    ("GET", "/status"): _get("/status"),
    ("GET", "/patient"): _get("/patient"),
    ("GET", "/referrals"): _get("/referrals"),
    ("GET", "/mpi"): _get("/mpi"),
    ("GET", "/ecg/view"): _get("/ecg/view"),
    ("GET", "/login"): _get("/login"),
    ("GET", "/static"): _get("/static/common.js"),
    ("POST", "/api/login"): _login,
    ("GET", "/api/session"): _get("/api/session", "reader"),
    ("POST", "/api/logout"): _post("/api/logout", {}, "reader", NOT_AUDITED),
    ("GET", "/api/status"): _get("/api/status", "admin", set()),
    ("GET", "/api/members"): _get("/api/members", "admin", set()),  # member facilities, no patient
    ("GET", "/api/dead-letters"): _get("/api/dead-letters", "admin", set()),
    ("GET", "/api/dead-letters/{dead_letter_id}"): _get("/api/dead-letters/dl-1", "admin", {"th01-pat-1"}),
    ("GET", "/api/dead-letters/{dead_letter_id}/payload"): _get("/api/dead-letters/dl-1/payload", "admin", {"th01-pat-1"}),
    ("GET", "/api/blobs/{sha256}"): lambda w: (w.client.get(f"/api/blobs/{w.blob}", headers=w.h("reader")),
                                               {"th01-pat-1"}),
    ("GET", "/api/mpi/reviews"): _get("/api/mpi/reviews", "clinician", {"vc03-pat-7", GOLDEN}),
    ("GET", "/api/mpi/history"): _get("/api/mpi/history", "clinician", {"th01-pat-1"}, patient="th01-pat-1"),
    ("GET", "/api/mpi/status"): _get("/api/mpi/status", "reader"),
    ("POST", "/api/mpi/reviews/{review_id}/reject"): _post(  # a decision that moves no record
        "/api/mpi/reviews/mpi-second/reject", {}, "clinician", set()),
    ("POST", "/api/mpi/reviews/{review_id}/confirm"): _post(
        lambda w: f"/api/mpi/reviews/{next(r for r in w.reviews if r != 'mpi-second')}/confirm", {}, "clinician", {"vc03-pat-7"}),
    ("POST", "/api/mpi/link"): _post("/api/mpi/link", lambda w: {"patient": "th02-pat-9", "community": w.community.golden},
                                     "clinician", {"th02-pat-9"}),
    ("POST", "/api/mpi/unlink"): _post("/api/mpi/unlink", {"patient": "th02-pat-9"}, "clinician", {"th02-pat-9"}),
    ("POST", "/api/mpi/merge"): _post("/api/mpi/merge", lambda w: {"survivor": w.community.golden,
                                      "merged": _th02_community(w)}, "clinician", {"th02-pat-9"}, keep="merge"),
    ("POST", "/api/mpi/unmerge"): _post("/api/mpi/unmerge", lambda w: {"operation": w.state["merge"]["operation"]},
                                        "clinician", {"th02-pat-9"}),
    ("POST", "/api/mpi/rematch"): _post("/api/mpi/rematch", {}, "admin", set()),
    ("POST", "/fhir/Patient/$match"): _post("/fhir/Patient/$match", MATCH, "reader", {GOLDEN}),
    ("POST", "/fhir/{resource_type}"): _post("/fhir/Patient", NEW_PATIENT, "connector_th01", {"th01-pat-88001"}),
    ("POST", "/fhir"): _post("/fhir", BATCH, "connector_th01", {"th01-pat-1"}),
    ("PUT", "/fhir/{resource_type}/{resource_id}"): lambda w: (w.client.put(
        "/fhir/Encounter/th01-enc-1", json=VISIT, headers={**w.h("connector_th01"), "If-Match": 'W/"1"'}), {"th01-pat-1"}),
    ("POST", "/dicomweb/studies"): _stow,
    ("GET", "/imaging/viewer"): _get("/imaging/viewer"),
    ("GET", "/dicomweb/studies"): _image("/studies?PatientID=1"),
    ("GET", "/dicomweb/series"): _image("/series?Modality=CT"),
    ("GET", "/dicomweb/instances"): _image("/instances", role="clinician"),
    ("GET", "/dicomweb/studies/{study}/series"): _image("/studies/{study}/series"),
    ("GET", "/dicomweb/studies/{study}/instances"): _image("/studies/{study}/instances"),
    ("GET", "/dicomweb/studies/{study}/series/{series}/instances"): _image("/studies/{study}/series/{series}/instances"),
    ("GET", "/dicomweb/studies/{study}"): _image("/studies/{study}"),
    ("GET", "/dicomweb/studies/{study}/series/{series}"): _image("/studies/{study}/series/{series}"),
    ("GET", "/dicomweb/studies/{study}/series/{series}/instances/{instance}"): _image(
        "/studies/{study}/series/{series}/instances/{instance}", 'multipart/related; type="application/dicom"'),
    ("GET", "/dicomweb/studies/{study}/metadata"): _image("/studies/{study}/metadata"),
    ("GET", "/dicomweb/studies/{study}/series/{series}/metadata"): _image("/studies/{study}/series/{series}/metadata"),
    ("GET", "/dicomweb/studies/{study}/series/{series}/instances/{instance}/metadata"): _image(
        "/studies/{study}/series/{series}/instances/{instance}/metadata"),
    ("GET", "/dicomweb/studies/{study}/series/{series}/instances/{instance}/rendered"): _image(
        "/studies/{study}/series/{series}/instances/{instance}/rendered", "image/png"),
    ("GET", "/dicomweb/studies/{study}/series/{series}/instances/{instance}/frames/{frames}"): _image(
        "/studies/{study}/series/{series}/instances/{instance}/frames/1",
        'multipart/related; type="application/octet-stream"'),
    ("GET", "/dicomweb/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/rendered"): _image(
        "/studies/{study}/series/{series}/instances/{instance}/frames/1/rendered?window=-600,1500", "image/jpeg"),
    ("GET", "/fhir/AuditEvent"): _get("/fhir/AuditEvent", "admin", {"th01-pat-1"}, patient="th01-pat-1"),
    ("GET", "/fhir/AuditEvent/{audit_id}"): _get("/fhir/AuditEvent/1", "admin", set()),
    ("GET", "/fhir/Patient/{patient_id}/$everything"): lambda w: (
        w.client.get(f"/fhir/Patient/{w.community.golden}/$everything", headers=w.h("reader")), PERSON),
    ("GET", "/fhir/{resource_type}/{resource_id}"): _get("/fhir/Observation/th01-obs-1", "pharmacist", {"th01-pat-1"}),
    ("GET", "/fhir/{resource_type}"): _get("/fhir/Patient", "reader", PERSON | {"th02-pat-9"}, _count="50"),
    ("GET", "/fhir/{resource_type}/{resource_id}/_history/{version_id}"): _get(
        "/fhir/Observation/th01-obs-1/_history/1", "pharmacist", {"th01-pat-1"}),
    ("GET", "/fhir/{resource_type}/{resource_id}/_history"): _get("/fhir/Patient/th01-pat-1/_history", "reader",
                                                                  {"th01-pat-1"}),
    ("GET", "/fhir/{resource_type}/_history"): _get("/fhir/Patient/_history", "reader", PERSON | {"th02-pat-9"}),
    # Bulk Data export: who asked is audited; the files with every patient in them.
    ("GET", "/fhir/$export"): lambda w: (w.client.get("/fhir/$export", headers={**w.h("reader"), **ASYNC}), set()),
    ("GET", "/fhir/Patient/$export"): _export_patients,
    ("GET", "/fhir/Group/{group_id}/$export"): lambda w: (
        w.client.get("/fhir/Group/th01/$export", headers={**w.h("reader"), **ASYNC}), set()),
    ("GET", "/fhir/$export-status/{job_id}"): lambda w: (
        w.client.get(f"/fhir/$export-status/{_exported(w)}", headers=w.h("reader")), set()),
    ("GET", "/fhir/$export-file/{job_id}/{file_name}"): lambda w: (
        w.client.get(f"/fhir/$export-file/{_exported(w)}/Patient.ndjson", headers=w.h("reader")), PERSON),
    ("DELETE", "/fhir/$export-status/{job_id}"): lambda w: (
        w.client.delete(f"/fhir/$export-status/{_exported(w)}", headers=w.h("reader")), set()),
    ("GET", "/api/referrals"): _get("/api/referrals", "clinician", {"th01-pat-1"}),
    ("GET", "/api/referrals/summary"): _get("/api/referrals/summary", "clinician"),
    ("GET", "/api/delivery"): _get("/api/delivery", "admin"),
    ("GET", "/api/delivery/refused"): _get("/api/delivery/refused", "admin", {"th01-pat-1"}),
    ("POST", "/api/delivery/refused/{message_row}/retry"): _post(lambda w: f"/api/delivery/refused/{_refused(w)}/retry",
                                                                  {}, "admin", NOT_AUDITED),
    ("GET", "/api/ecg/studies/{study_ref}"): _ecg(""),
    ("GET", "/api/ecg/studies/{study_ref}/history"): _ecg("/history"),
    ("GET", "/api/patients/{patient_id}/recognised-results"): _get(
        "/api/patients/th01-pat-1/recognised-results", "reader", {GOLDEN}, facility="cty01"),
    ("GET", "/critical-values"): _get("/critical-values"),
    ("GET", "/api/critical-values"): _get("/api/critical-values", "clinician", {"th01-pat-1"}),
    ("GET", "/api/critical-values/unchecked"): _get("/api/critical-values/unchecked", "clinician"),
    ("GET", "/api/critical-values/{notice_id}"): _get(f"/api/critical-values/{CRITICAL}", "connector_th01", {"th01-pat-1"}),
    ("POST", "/api/critical-values/{notice_id}/acknowledge"): _post(
        f"/api/critical-values/{CRITICAL}/acknowledge", {"name": "李娜", "role": "护士", "action": "已通知医师"},
        "connector_th01", {"th01-pat-1"}),
    ("GET", "/fhir/Communication"): _get("/fhir/Communication", "connector_th01", {"th01-pat-1"}),
    ("GET", "/fhir/Communication/{notice_id}"): _get(f"/fhir/Communication/{CRITICAL}", "clinician", {"th01-pat-1"}),
    ("POST", "/fhir/Communication"): _post("/fhir/Communication", REPLY, "connector_th01", {"th01-pat-1"}),
    ("GET", "/pharmacy"): _get("/pharmacy"),
    ("GET", "/api/pharmacy/queue"): _pharmacy("GET", "/api/pharmacy/queue", "pharmacist", {"th01-pat-1"}),
    ("GET", "/api/pharmacy/reasons"): _pharmacy("GET", "/api/pharmacy/reasons", "pharmacist", NOT_AUDITED),
    ("GET", "/api/pharmacy/reviews/{review_id}"): _pharmacy(
        "GET", lambda w: f"/api/pharmacy/reviews/{w.state['review']}", "pharmacist", {"th01-pat-1"}),
    ("GET", "/api/pharmacy/patients/{patient_id}/medications"): _pharmacy(
        "GET", "/api/pharmacy/patients/th01-pat-1/medications", "pharmacist", {"th01-pat-1"}),
    ("GET", "/fhir/DetectedIssue"): _pharmacy("GET", "/fhir/DetectedIssue?patient=th01-pat-1", "pharmacist",
                                              {"th01-pat-1"}),
    ("GET", "/fhir/AllergyIntolerance"): _pharmacy("GET", "/fhir/AllergyIntolerance?patient=th01-pat-1",
                                                   "pharmacist", {"cty01-pat-A77"}),  # recorded at the county
    ("POST", "/api/pharmacy/reviews/{review_id}/decision"): _pharmacy(
        "POST", lambda w: f"/api/pharmacy/reviews/{w.state['review']}/decision", "pharmacist", {"th01-pat-1"},
        {"action": "return", "reason_code": "interaction", "text": "与县医院华法林合用"}),
    ("GET", "/api/pharmacy/mappings"): _pharmacy("GET", "/api/pharmacy/mappings", "pharmacist", NOT_AUDITED),
    ("POST", "/api/pharmacy/mappings/{code_id}"): _pharmacy(
        "POST", lambda w: f"/api/pharmacy/mappings/{w.state['code']}", "pharmacist", NOT_AUDITED, {"drug": "D0011"}),
    ("GET", "/api/pharmacy/drugs"): _pharmacy("GET", "/api/pharmacy/drugs?q=二甲双胍", "pharmacist", NOT_AUDITED),
    ("GET", "/api/pharmacy/rules"): _pharmacy("GET", "/api/pharmacy/rules", "pharmacist", NOT_AUDITED),
    ("POST", "/api/pharmacy/rules"): _pharmacy(
        "POST", "/api/pharmacy/rules", "pharmacist", NOT_AUDITED, keep="rules",
        body={"text": "version: local-1\nrules:\n  - {id: interaction.local, kind: interaction, a: B01AA03, b: M01A, "
              "severity: high, action: hold, text: {zh: 本院规则, en: local rule}, source: 本院药事会}\n"}),
    ("GET", "/api/pharmacy/rules/versions/{version_id}"): _pharmacy(
        "GET", lambda w: f"/api/pharmacy/rules/versions/{w.state['rules']['id']}", "pharmacist", NOT_AUDITED),
    ("GET", "/pharmacy/stock"): _get("/pharmacy/stock"),
    ("GET", "/api/pharmacy/stock"): _pharmacy("GET", "/api/pharmacy/stock", "pharmacist", NOT_AUDITED),
    ("GET", "/api/pharmacy/stock/warnings"): _pharmacy("GET", "/api/pharmacy/stock/warnings", "pharmacist", NOT_AUDITED),
    ("GET", "/api/pharmacy/stock/replenishment"): _pharmacy("GET", "/api/pharmacy/stock/replenishment", "pharmacist",
                                                            NOT_AUDITED),
    ("POST", "/api/pharmacy/stock/deliveries"): _pharmacy(
        "POST", "/api/pharmacy/stock/deliveries", "pharmacist", NOT_AUDITED, keep="delivery",
        body={"village": "vc01", "source": "th01", "drug": "D0006", "quantity": 20}),
    ("POST", "/api/pharmacy/stock/deliveries/{delivery_id}"): _pharmacy(
        "POST", lambda w: f"/api/pharmacy/stock/deliveries/{w.state['delivery']['id']}", "pharmacist", NOT_AUDITED,
        {"state": "shipped"}),
    ("GET", "/api/pharmacy/stock/deliveries"): _pharmacy("GET", "/api/pharmacy/stock/deliveries", "pharmacist",
                                                         NOT_AUDITED),
    ("GET", "/api/pharmacy/stock/vbp"): _pharmacy("GET", "/api/pharmacy/stock/vbp", "pharmacist", NOT_AUDITED),
    ("GET", "/reading"): _get("/reading"),
    ("GET", "/api/reading/centres"): _reading("GET", "/api/reading/centres", "reader", NOT_AUDITED),
    ("GET", "/api/reading/worklist"): _reading("GET", "/api/reading/worklist", "reader", {"th01-pat-1"}),
    ("GET", "/api/reading/items/{item_id}"): _reading("GET", "/api/reading/items/rd-th01-sr-E1", "reader",
                                                      {"th01-pat-1"}),
    ("POST", "/api/reading/items/{item_id}/claim"): _reading("POST", "/api/reading/items/rd-th01-sr-E1/claim",
                                                             "reader", {"th01-pat-1"}),
    ("POST", "/api/reading/items/{item_id}/renew"): _reading("POST", "/api/reading/items/rd-th01-sr-E1/renew",
                                                             "reader", {"th01-pat-1"}),
    ("PUT", "/api/reading/items/{item_id}/report"): _reading("PUT", "/api/reading/items/rd-th01-sr-E1/report",
                                                             "reader", {"th01-pat-1"}, {"content": ECG_REPORT}),
    ("POST", "/api/reading/items/{item_id}/release"): _reading(
        "POST", "/api/reading/items/rd-th01-sr-E1/release", "reader", {"th01-pat-1"}),
    ("POST", "/api/reading/items/{item_id}/reassign"): _reading(
        "POST", "/api/reading/items/rd-th01-sr-E1/reassign", "admin", {"th01-pat-1"}, {"to": "reader-zhang"}),
    ("POST", "/api/reading/items/{item_id}/report/sign"): _reading(
        "POST", "/api/reading/items/rd-th01-sr-E1/report/sign", "reader", {"th01-pat-1"}, {}),
    ("POST", "/api/reading/items/{item_id}/report/confirm"): _reading(
        "POST", "/api/reading/items/rd-th01-sr-E2/report/confirm", "reader", {"th01-pat-1"}),
    ("POST", "/api/reading/reports/{report_id}/amend"): _reading(
        "POST", "/api/reading/reports/rdr-th01-sr-E1/amend", "reader", {"th01-pat-1"},
        {"content": {**ECG_REPORT, "conclusion": "窦性心律，大致正常心电图"}, "reason": "措辞"}),
    ("GET", "/api/reading/reports/{report_id}"): _reading("GET", "/api/reading/reports/rdr-th01-sr-E1", "reader",
                                                          {"th01-pat-1"}),
    ("GET", "/api/reading/unordered"): _reading("GET", "/api/reading/unordered", "reader", {"th01-pat-1"}),
    ("POST", "/api/reading/unordered/{study_id}/accept"): _reading(
        "POST", "/api/reading/unordered/th01-img-7-7-7/accept", "admin", {"th01-pat-1"}, {}),
    ("GET", "/api/reading/stats"): _reading("GET", "/api/reading/stats", "reader", NOT_AUDITED),
    ("GET", "/fhir/Task"): _reading("GET", "/fhir/Task?code=ecg-read", "reader", {GOLDEN}),
    ("GET", "/fhir/Task/{task_id}"): _reading("GET", "/fhir/Task/rd-th01-sr-E1", "reader", {GOLDEN}),
    ("GET", "/indicators"): _get("/indicators"),
    ("GET", "/api/indicators"): _indicators("GET", "/api/indicators?month=2026-11", NOT_AUDITED),
    ("GET", "/api/indicators/export.csv"): _indicators("GET", "/api/indicators/export.csv?month=2026-11", NOT_AUDITED),
    ("GET", "/api/indicators/trend"): _indicators("GET", "/api/indicators/trend?to=2026-11&months=2", NOT_AUDITED),
    ("GET", "/api/indicators/records"): _indicators(
        "GET", "/api/indicators/records?month=2026-11&key=primary_visits", {"th01-pat-1"}),
    ("GET", "/api/indicators/records.csv"): _indicators(
        "GET", "/api/indicators/records.csv?month=2026-11&key=primary_visits", {"th01-pat-1"}),
    ("POST", "/api/indicators/insurance"): _indicators(
        "POST", "/api/indicators/insurance?month=2026-11", NOT_AUDITED,
        "settlement_id,settled_on,visit_type,hospital\nYB1,2026-11-02,inpatient,省人民医院\n".encode()),
}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            found.append((method, str(route.path)))
    return found


def _newest_id(world: World) -> int:
    with world.community.db.sessions() as session:
        return int(session.scalar(select(func.max(AuditLog.id))) or 0)


def test_every_route_is_walked(world: World) -> None:
    routes = _routes(world.client)
    missing = [route for route in routes if route not in RECIPES]
    assert not missing, f"routes without a recipe in {__file__}: {missing}; say what each returns"
    assert not set(RECIPES) - set(routes), "recipes of routes that no longer exist"


def test_every_answer_with_patient_data_is_audited_with_its_patients(world: World) -> None:
    assert set(RECIPES) == set(_routes(world.client))
    for (method, path), recipe in RECIPES.items():
        before = _newest_id(world)
        response, expected = recipe(world)
        where = f"{method} {path}"
        assert response.status_code < 400, f"{where}: {response.status_code} {response.text[:300]}"
        with world.community.db.sessions() as session:
            # Requests only: a step a route took besides (a notice acknowledged) has its own row, no method.
            rows = session.scalars(select(AuditLog).where(AuditLog.id > before, AuditLog.method.is_not(None))).all()
            audited = set(session.scalars(
                select(AuditPatient.patient_id).where(AuditPatient.audit_uid.in_([r.uid for r in rows]))))
        if expected is NOT_AUDITED:
            assert rows == [], f"{where} wrote an audit row but is not marked as returning patient data"
            ids: set[str] = set()
            keys: set[str] = set()
            if "json" in response.headers.get("content-type", ""):
                patients_in(response.json(), ids, keys)
            leaked = [s for s in PERSONAL if re.search(rf"(?<![\w-]){s}(?![\w-])", response.text)]
            assert not ids and not keys and not leaked, f"{where} returns patient data without an audit row"
            continue
        assert len(rows) == 1, f"{where}: {len(rows)} audit rows"
        row = rows[0]
        assert row.client == "testclient" and row.method == method and row.status == response.status_code, where
        assert row.actor and row.role and row.at is not None, where
        wanted = {world.community.golden if p == GOLDEN else p for p in expected}
        assert wanted <= audited, f"{where}: audited {sorted(audited)}, expected at least {sorted(wanted)}"


@pytest.mark.parametrize("query, patients", [
    ("/fhir/Patient?_count=2", 2),
    ("/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.3|110101199003074573", 3),  # the golden record too
    ("/fhir/Patient?_id=th02-pat-9", 1),
    ("/fhir/Observation?code=http://loinc.org|2345-7", 1),
])
def test_searches_without_patient_are_audited_with_every_patient_returned(
    community: Community, query: str, patients: int
) -> None:
    response = community.client.get(query, headers=auth(community.tokens["reader"]))
    assert response.status_code == 200 and response.json()["entry"]
    returned = {e["resource"]["id"] if e["resource"]["resourceType"] == "Patient"
                else e["resource"]["subject"]["reference"].removeprefix("Patient/") for e in response.json()["entry"]}
    with community.db.sessions() as session:
        (row,) = session.scalars(select(AuditLog)).all()
        audited = set(session.scalars(select(AuditPatient.patient_id).where(AuditPatient.audit_uid == row.uid)))
    assert (row.actor, row.action, row.client) == ("reader-zhang", "search", "testclient")
    assert audited == returned and len(audited) == patients


def test_a_read_that_cannot_be_audited_is_not_answered(community: Community) -> None:
    with community.db.transaction() as session:  # the audit table is gone: no row can be written
        session.execute(AuditPatient.__table__.delete())  # type: ignore[attr-defined]
    with community.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_patient")
    response = community.client.get("/fhir/Patient/th01-pat-1", headers=auth(community.tokens["reader"]))
    assert response.status_code == 503
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and "audit" in body["issue"][0]["diagnostics"]
    assert "王秀英" not in json.dumps(body, ensure_ascii=False)
