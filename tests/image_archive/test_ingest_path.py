"""The whole way in, through the real broker: a file posted with STOW-RS and a file dropped into a DICOM
inbox are published by their connectors, indexed by the archive consumer, and found by QIDO-RS."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pydicom
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from connectors.dicom.connector import DicomInboxConnector
from consumers.image_archive.consumer import ImageArchiveConsumer
from hub.app.api.app import create_app
from hub.core.config import HubSettings
from hub.core.connector import ANY_FACILITY, ConnectorConfig
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.web.auth import issue_token
from tests.api.conftest import FakeRuntime
from tests.image_archive.samples import ct_series, mr_multiframe
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


def _publish(outbox: Outbox, settings: HubSettings) -> None:
    relay = OutboxRelay(outbox, settings)
    relay.check_epoch(force=True)
    while outbox.backlog():
        relay.publish_pending()
    relay.close()


def test_stow_and_inbox_files_reach_qido_through_the_broker(broker_settings: HubSettings, db: Database,
                                                           tmp_path: Path) -> None:
    settings = broker_settings.model_copy(update={"admin_token": SecretStr("admin")})
    codec = EventCodec(FileSchemaRegistry(), settings.topic_prefix)
    stow_outbox = Outbox(settings.outbox_path("dicom"), "dicom")
    sink = Sink("dicom", settings.facility_id, stow_outbox, codec, settings, facilities=ANY_FACILITY)
    with db.transaction() as session:
        connector_token = issue_token(session, "th01-pacs", "connector", "th01")
        reader_token = issue_token(session, "reader-zhang", "reader", "cty01")
    reader = {"Authorization": f"Bearer {reader_token}"}
    client = TestClient(create_app(settings, db, FakeRuntime(), {"dicom": sink}))

    # STOW-RS: a CT series of three slices from th01, in one multipart request.
    files = ct_series(3, patient_id="S-77")
    boundary = "hub-test-boundary"
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + f + b"\r\n" for f in files)
    body += f"--{boundary}--\r\n".encode()
    stored = client.post("/dicomweb/studies", content=body, headers={
        "Authorization": f"Bearer {connector_token}",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    assert stored.status_code == 200, stored.text
    _publish(stow_outbox, settings)

    # The inbox: a multi-frame MR dropped by the county hospital's own device.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = ConnectorConfig(name="cty01-mr", kind="dicom", facility_id="cty01",
                             options={"inbox": str(inbox), "settle_s": 0})
    connector = DicomInboxConnector(config, settings)
    inbox_outbox = Outbox(settings.outbox_path("cty01-mr"), "cty01-mr")
    (inbox / "mr.dcm").write_bytes(mr_multiframe(patient_id="M-1"))
    assert connector.scan(Sink("cty01-mr", "cty01", inbox_outbox, codec, settings)) == 1
    _publish(inbox_outbox, settings)

    runner = ConsumerRunner(ImageArchiveConsumer(settings), settings, db, codec)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        def studies() -> list[dict]:
            return list(client.get("/dicomweb/studies", headers=reader).json())

        wait_for(lambda: len(studies()) == 2 and sum(s["00201208"]["Value"][0] for s in studies()) == 4, 60)
    finally:
        stop.set()
        thread.join(15)
    ct = pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True)
    found = client.get("/dicomweb/studies", params={"PatientID": "S-77"}, headers=reader).json()
    assert [s["0020000D"]["Value"][0] for s in found] == [ct.StudyInstanceUID]
    assert found[0]["00100021"]["Value"] == ["th01"] and found[0]["00201208"]["Value"] == [3]
    mr = client.get("/dicomweb/instances", params={"Modality": "MR"}, headers=reader).json()
    assert mr[0]["00280008"]["Value"] == [3] and mr[0]["00100021"]["Value"] == ["cty01"]
    # ...and the images are there to see.
    path = (f"/dicomweb/studies/{ct.StudyInstanceUID}/series/{ct.SeriesInstanceUID}/instances/{ct.SOPInstanceUID}"
            "/frames/1/rendered")
    image = client.get(path, headers={**reader, "Accept": "image/png"})
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
