"""Through the real broker: imaging requests reach the reading consumer, a signed report leaves through
the results outbox, and the record store files it in the patient's record and `$everything`."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from consumers.reading.consumer import ReadingConsumer
from consumers.reading.models import ReadingItem
from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.store import community_patient_id
from hub.app.api.app import create_app
from hub.core import kafka_io
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.outbox import OutboxRelay
from hub.core.web.auth import issue_token
from tests.api.conftest import auth
from tests.factories import patient_event
from tests.hub.test_consuming import publish, runner_for, running
from tests.reading.factories import ECG_REPORT, arrival, order
from tests.waiting import wait_for

pytestmark = pytest.mark.broker
ADMIN = "reading-admin"


def test_a_signed_report_is_in_the_patients_record(broker_settings: HubSettings, db: Database) -> None:
    kafka_io.ensure_topics(broker_settings)
    settings = broker_settings.model_copy(update={"admin_token": SecretStr(ADMIN)})
    with db.transaction() as session:
        reader = issue_token(session, "reader-zhang", "reader", "cty01")
    publish(settings, [patient_event("th01", "1", name="王秀英"), order(number="E1"),
                       arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    app = create_app(settings, db)
    relay = OutboxRelay(app.state.results, settings)
    app.state.results.on_added(relay.wake)
    stop = threading.Event()
    relay_thread = threading.Thread(target=relay.run, args=(stop, 1.0), daemon=True)
    relay_thread.start()
    try:
        with running(runner_for(RecordStoreConsumer(settings), settings, db)), \
                running(runner_for(ReadingConsumer(settings), settings, db)), TestClient(app) as client:
            def ready() -> bool:
                with db.reading() as session:
                    item = session.get(ReadingItem, "rd-th01-sr-E1")
                    return item is not None and item.state == "ready"

            wait_for(ready, 60)
            assert client.post("/api/reading/items/rd-th01-sr-E1/claim", headers=auth(reader)).status_code == 200
            signed = client.post("/api/reading/items/rd-th01-sr-E1/report/sign", headers=auth(reader),
                                 json={"content": ECG_REPORT})
            assert signed.status_code == 200, signed.text
            report_id = signed.json()["report"]["id"]
            wait_for(lambda: client.get(f"/fhir/DiagnosticReport/{report_id}", headers=auth(ADMIN)).status_code
                     == 200, 60)
            stored = client.get(f"/fhir/DiagnosticReport/{report_id}", headers=auth(ADMIN)).json()
            assert stored["status"] == "final" and stored["conclusion"] == "窦性心律，正常心电图"
            assert stored["subject"] == {"reference": "Patient/th01-pat-1"}
            rate = client.get(f"/fhir/Observation/{report_id}-rate", headers=auth(ADMIN)).json()
            assert rate["code"]["coding"][0]["code"] == "8867-4" and rate["valueQuantity"]["value"] == 72
            golden = community_patient_id("th01/1")
            everything = client.get(f"/fhir/Patient/{golden}/$everything", headers=auth(ADMIN),
                                    params={"_count": 100}).json()
            ids = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in everything["entry"]}
            assert ("DiagnosticReport", report_id) in ids and ("Observation", f"{report_id}-rate") in ids
            assert ("ImagingStudy", "th01-img-1-2-3-1") in ids
            found = client.get("/fhir/DiagnosticReport", headers=auth(ADMIN), params={"patient": golden}).json()
            assert report_id in {e["resource"]["id"] for e in found["entry"]}
    finally:
        stop.set()
        relay.wake()
        relay_thread.join(10)
