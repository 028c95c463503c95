"""STOW-RS: DICOM over HTTP from a member, multipart/related as the standard says."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from hub.app.api.app import create_app
from hub.core.connector import ANY_FACILITY
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER
from tests.api.conftest import Community, auth
from tests.connectors.dicom_samples import ecg_file


def test_stow_rs_stores_instances_and_reports_failures(community: Community, tmp_path: Path) -> None:
    settings = community.client.app.state.settings
    outbox = Outbox(tmp_path / "dicom.db", "dicom")
    sink = Sink("dicom", "cty01", outbox, EventCodec(FileSchemaRegistry()), settings, facilities=ANY_FACILITY)
    client = TestClient(create_app(settings, community.db, community.runtime, {"dicom": sink}))
    boundary = "hub-boundary-1"
    parts = [ecg_file(patient_id="S1"), b"not dicom at all"]
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n" for part in parts
    ) + f"--{boundary}--\r\n".encode()
    headers = {**auth(community.tokens["connector_th01"]),
               "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'}
    response = client.post("/dicomweb/studies", content=body, headers=headers)
    assert response.status_code == 202  # some stored, some failed
    answer = response.json()
    assert len(answer["00081199"]["Value"]) == 1 and len(answer["00081198"]["Value"]) == 1
    assert "not a DICOM file" in answer["00081198"]["Value"][0]["00081196"]["Value"][0]
    records = outbox.pending(10)
    assert sorted(r.record.topic == DEAD_LETTER.name for r in records) == [False, False, True]  # patient, study
    event = EventCodec(FileSchemaRegistry()).decode(next(r for r in records if r.record.topic != DEAD_LETTER.name).record.value)
    assert event.source.facility_id == "th01" and event.patient_key == "th01/S1"

    single = client.post("/dicomweb/studies", content=ecg_file(patient_id="S2"),
                         headers={**auth(community.tokens["connector_th01"]), "Content-Type": "application/dicom"})
    assert single.status_code == 200
    wrong = client.post("/dicomweb/studies", content=b"{}", headers={**auth(community.tokens["connector_th01"]),
                                                                     "Content-Type": "application/json"})
    assert wrong.status_code == 415
    assert client.post("/dicomweb/studies", content=b"", headers=auth(community.tokens["reader"])).status_code == 403


def test_stow_rs_refuses_a_wrong_or_unknown_character_set(community: Community, tmp_path: Path) -> None:
    from tests.connectors.dicom_samples import WRONG_CHARSETS

    settings = community.client.app.state.settings
    outbox = Outbox(tmp_path / "dicom.db", "dicom")
    sink = Sink("dicom", "cty01", outbox, EventCodec(FileSchemaRegistry()), settings, facilities=ANY_FACILITY)
    client = TestClient(create_app(settings, community.db, community.runtime, {"dicom": sink}))
    headers = {**auth(community.tokens["connector_th01"]), "Content-Type": "application/dicom"}
    for case, make, reason in WRONG_CHARSETS:
        response = client.post("/dicomweb/studies", content=make(), headers=headers)
        assert response.status_code == 409, (case, response.text)
        [failed] = response.json()["00081198"]["Value"]
        assert reason in failed["00081196"]["Value"][0], case
    records = outbox.pending(100)
    assert len(records) == len(WRONG_CHARSETS) and all(r.record.topic == DEAD_LETTER.name for r in records)
