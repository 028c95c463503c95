"""Bulk Data export on a real database, through HTTP, with the record store's real worker: kick-off,
polling, manifest, NDJSON downloads, scope and masking by role, Group = member facility, cancel,
and jobs that survive a restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from consumers.record_store.bulk_export import KEEP_FOR, Exporter, claim_next, remove_expired
from consumers.record_store.models import ExportJob
from consumers.record_store.writer import RecordWriter
from hub.app.api.app import create_app
from hub.core.events import utcnow
from tests.api.conftest import Community, auth
from tests.factories import encounter_event

ASYNC = {"Prefer": "respond-async"}
BASE = "http://127.0.0.1:8080"  # the settings' public address: links are absolute, the test client serves any host
EVERYTHING = {"Patient": 5, "Encounter": 3, "Observation": 1, "DiagnosticReport": 1, "MedicationRequest": 1}


@pytest.fixture
def exporter(community: Community) -> Iterator[None]:
    stop = threading.Event()
    worker = Exporter(community.db, community.client.app.state.settings.data_dir, poll_s=0.2)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


def _kick_off(community: Community, path: str, role: str = "clinician", **params: str) -> str:
    response = community.client.get(path, params=params, headers={**auth(community.tokens[role]), **ASYNC})
    assert response.status_code == 202, response.text
    location = response.headers["content-location"]
    assert location.startswith(f"{BASE}/fhir/$export-status/")  # the configured public address, never Host
    return location


def _manifest(community: Community, status_url: str, role: str = "clinician") -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = community.client.get(status_url, headers=auth(community.tokens[role]))
        if response.status_code != 202:
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("application/json")
            return dict(response.json())
        assert response.headers["x-progress"] and int(response.headers["retry-after"]) > 0
        time.sleep(0.1)
    raise AssertionError("the export did not finish in 30 s")


def _download(community: Community, manifest: dict, role: str = "clinician") -> dict[str, list[dict]]:
    files = {}
    for output in manifest["output"]:
        response = community.client.get(output["url"], headers=auth(community.tokens[role]))
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert len(lines) == output["count"] and all(r["resourceType"] == output["type"] for r in lines)
        files[output["type"]] = lines
    return files


def test_system_export_polls_then_gives_a_manifest_of_ndjson_files(community: Community) -> None:
    status_url = _kick_off(community, "/fhir/$export")
    # No worker yet: the job waits, and the status says so.
    waiting = community.client.get(status_url, headers=auth(community.tokens["clinician"]))
    assert waiting.status_code == 202 and waiting.headers["x-progress"] == "waiting"
    assert waiting.headers["retry-after"] == "2"
    stop = threading.Event()
    worker = threading.Thread(target=Exporter(community.db, community.client.app.state.settings.data_dir, 0.2).run,
                              args=(stop,), daemon=True)
    worker.start()
    try:
        manifest = _manifest(community, status_url)
    finally:
        stop.set()
        worker.join(5)
    assert manifest["requiresAccessToken"] is True and manifest["request"] == f"{BASE}/fhir/$export"
    assert manifest["transactionTime"] and manifest["error"] == []
    assert {o["type"]: o["count"] for o in manifest["output"]} == EVERYTHING
    files = _download(community, manifest)
    assert {r["id"] for r in files["Encounter"]} == {"th01-enc-1", "cty01-enc-2", "th02-enc-3"}
    assert all(r["meta"]["versionId"] == "1" for r in files["Encounter"])
    assert "13812345678" in json.dumps(files["Patient"])  # a clinician sees the numbers, as a read shows them
    url = manifest["output"][0]["url"]
    assert community.client.get(url).status_code == 401  # the same bearer token is required
    assert community.client.get(url, headers=auth(community.tokens["pharmacist"])).status_code == 404  # not theirs


def test_kick_off_refuses_what_it_cannot_do(community: Community) -> None:
    headers = {**auth(community.tokens["clinician"]), **ASYNC}
    sync = community.client.get("/fhir/$export", headers=auth(community.tokens["clinician"]))
    assert sync.status_code == 400 and "respond-async" in sync.json()["issue"][0]["diagnostics"]
    for query, expression in [("_type=Spaceship", "_type"), ("_outputFormat=text/csv", "_outputFormat"),
                              ("_since=yesterday", "_since"), ("_typeFilter=Patient%3Fgender%3Dmale", "_typeFilter")]:
        response = community.client.get(f"/fhir/$export?{query}", headers=headers)
        assert response.status_code == 400 and response.json()["issue"][0]["expression"] == [expression], query
    assert community.client.get("/fhir/Group/nowhere/$export", headers=headers).status_code == 404
    assert community.client.get("/fhir/$export", headers=ASYNC).status_code == 401


def test_type_and_since_export_only_what_changed(community: Community, exporter: None) -> None:
    first = _manifest(community, _kick_off(community, "/fhir/$export", _type="Encounter,Patient"))
    assert {o["type"] for o in first["output"]} == {"Encounter", "Patient"}
    changed = encounter_event("th02", "9", visit=3, version=1)
    changed.resource["status"] = "cancelled"
    with community.db.transaction() as session:
        writer = RecordWriter(session)
        writer.apply(changed)
        writer.finish()
    since = _manifest(community, _kick_off(community, "/fhir/$export", _type="Encounter",
                                           _since=first["transactionTime"], _outputFormat="application/fhir+ndjson"))
    files = _download(community, since)
    assert [(r["id"], r["meta"]["versionId"], r["status"]) for r in files["Encounter"]] == [("th02-enc-3", "2", "cancelled")]


def test_connector_tokens_export_only_their_own_source_records(community: Community, exporter: None) -> None:
    manifest = _manifest(community, _kick_off(community, "/fhir/$export", "connector_th01"), "connector_th01")
    files = _download(community, manifest, "connector_th01")
    assert {t: {r["id"] for r in rows} for t, rows in files.items()} == {
        "Patient": {"th01-pat-1"}, "Encounter": {"th01-enc-1"}, "Observation": {"th01-obs-1"},
        "DiagnosticReport": {"th01-dr-1"}}
    other = community.client.get("/fhir/Group/th02/$export", headers={**auth(community.tokens["connector_th01"]), **ASYNC})
    assert other.status_code == 403
    own = _manifest(community, _kick_off(community, "/fhir/Group/th01/$export", "connector_th01"), "connector_th01")
    assert {o["type"] for o in own["output"]} == set(files)


def test_group_is_a_member_facility_and_brings_its_patients_whole_records(community: Community, exporter: None) -> None:
    files = _download(community, _manifest(community, _kick_off(community, "/fhir/Group/th01/$export")))
    # th01's patient is the same person as cty01's A77: the community record comes whole.
    assert {r["id"] for r in files["Patient"]} == {"th01-pat-1", "cty01-pat-A77", community.golden}
    assert {r["id"] for r in files["Encounter"]} == {"th01-enc-1", "cty01-enc-2"}
    assert {r["id"] for r in files["MedicationRequest"]} == {"cty01-rx-1"}
    patients = _download(community, _manifest(community, _kick_off(community, "/fhir/Patient/$export")))
    assert {t: len(rows) for t, rows in patients.items()} == EVERYTHING


def test_export_is_masked_for_roles_that_may_not_see_numbers(community: Community, exporter: None) -> None:
    files = _download(community, _manifest(community, _kick_off(community, "/fhir/Patient/$export", "reader",
                                                                _type="Patient"), "reader"), "reader")
    text = json.dumps(files, ensure_ascii=False)
    assert "13812345678" not in text and "110101199003074573" not in text and "王秀英" in text


def test_cancel_removes_the_job_and_its_files(community: Community, exporter: None) -> None:
    status_url = _kick_off(community, "/fhir/$export")
    manifest = _manifest(community, status_url)
    folder = community.client.app.state.settings.data_dir / "bulk-export" / status_url.rsplit("/", 1)[1]
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.ndjson" for t in EVERYTHING)
    headers = auth(community.tokens["clinician"])
    cancelled = community.client.delete(status_url, headers=headers)
    assert cancelled.status_code == 202
    assert not folder.exists()
    assert community.client.get(status_url, headers=headers).status_code == 404
    assert community.client.get(manifest["output"][0]["url"],
                                headers=headers).status_code == 404
    assert community.client.delete(status_url, headers=headers).status_code == 404


def test_a_job_survives_a_restart(community: Community) -> None:
    status_url = _kick_off(community, "/fhir/$export", _type="Encounter")
    # A runner claimed the job, then its process died: its heartbeat stops.
    assert claim_next(community.db) is not None
    with community.db.transaction() as session:
        session.execute(update(ExportJob).values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    # The hub starts again: a new app and a new worker find the job in the database and finish it.
    app = create_app(community.client.app.state.settings, community.db, community.runtime)
    stop = threading.Event()
    worker = threading.Thread(target=Exporter(community.db, app.state.settings.data_dir, 0.2).run, args=(stop,),
                              daemon=True)
    worker.start()
    try:
        with TestClient(app) as client:
            restarted = Community(client, community.db, community.runtime, community.tokens, community.golden)
            manifest = _manifest(restarted, status_url)
    finally:
        stop.set()
        worker.join(5)
    assert [(o["type"], o["count"]) for o in manifest["output"]] == [("Encounter", 3)]


def test_a_running_job_is_not_taken_by_a_second_runner(community: Community) -> None:
    _kick_off(community, "/fhir/$export")
    assert claim_next(community.db) is not None
    assert claim_next(community.db) is None  # its runner is alive (beating): nobody else takes it




def test_finished_jobs_expire_with_their_files(community: Community, exporter: None) -> None:
    status_url = _kick_off(community, "/fhir/$export", _type="Patient")
    _manifest(community, status_url)
    answer = community.client.get(status_url, headers=auth(community.tokens["clinician"]))
    assert answer.headers["expires"]  # the manifest says how long its files stay
    folder = community.client.app.state.settings.data_dir / "bulk-export" / status_url.rsplit("/", 1)[1]
    assert remove_expired(community.db, community.client.app.state.settings.data_dir) == 0 and folder.exists()
    with community.db.transaction() as session:
        session.execute(update(ExportJob).values(finished_at=utcnow() - KEEP_FOR - timedelta(minutes=1)))
    assert remove_expired(community.db, community.client.app.state.settings.data_dir) == 1
    assert not folder.exists()
    assert community.client.get(status_url, headers=auth(community.tokens["clinician"])).status_code == 404
