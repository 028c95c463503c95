"""An app over a real database holding a small shared record."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, CollectorRegistry
from pydantic import SecretStr

from consumers.record_store.store import community_patient_id
from consumers.record_store.writer import RecordWriter
from hub.app.api.app import create_app
from hub.app.operations import OperationsHistory
from hub.app.status import ConnectorState
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.events import Event, Source
from hub.core.lag import PartitionLag
from hub.core.web.auth import issue_token
from tests.conftest import free_port
from tests.factories import BASE_TIME, encounter_event, patient_event

ADMIN = "test-admin-token"


@dataclass
class FakeRuntime:
    assigned: bool = True
    broker: bool = True
    lags: list[PartitionLag] | None = None  # what a lag monitor would have sampled
    operations: OperationsHistory | None = None  # the last hour, as the hub's sampler keeps it

    def lag(self) -> list[PartitionLag] | None:
        return self.lags

    def history(self, since: float | None = None) -> dict[str, Any] | None:
        return self.operations.as_dict(since) if self.operations else None

    def consumer_states(self) -> dict[str, bool]:
        return {"record_store": self.assigned, "dead_letters": True}

    def connector_states(self) -> list[ConnectorState]:
        return [ConnectorState("th01-his", "his_db", "th01", 3, True, None, 1)]

    def broker_reachable(self) -> bool:
        return self.broker

    def metrics_registry(self) -> CollectorRegistry:
        return REGISTRY


def lab_event(facility: str = "th01", local_id: str = "1", report: int = 1) -> Event:
    observation = {
        "resourceType": "Observation", "id": f"{facility}-obs-{report}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "葡萄糖"}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "effectiveDateTime": "2026-11-20T09:00:00+08:00",
        "valueQuantity": {"value": 7.2, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
    }
    report_resource = {
        "resourceType": "DiagnosticReport", "id": f"{facility}-dr-{report}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "effectiveDateTime": "2026-11-20T09:00:00+08:00",
        "result": [{"reference": f"Observation/{facility}-obs-{report}"}],
    }
    return Event(f"lab-{facility}-{report}", "lab_result", Source(facility, "test", str(report)), BASE_TIME,
                 BASE_TIME, f"{facility}/{local_id}", report_resource, (observation,))


def rx_event(facility: str = "th01", local_id: str = "1") -> Event:
    resource = {
        "resourceType": "MedicationRequest", "id": f"{facility}-rx-1", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "urn:hub:code:nhsa-drug", "code": "XJ01", "display": "二甲双胍片"}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"}, "authoredOn": "2026-11-21T10:00:00+08:00",
    }
    return Event(f"rx-{facility}", "prescription", Source(facility, "test", "rx1"), BASE_TIME, BASE_TIME,
                 f"{facility}/{local_id}", resource)


@dataclass
class Community:
    client: TestClient
    db: Database
    runtime: FakeRuntime
    tokens: dict[str, str]
    golden: str


@pytest.fixture
def community(db: Database, settings: HubSettings) -> Iterator[Community]:
    # The same person at a township centre and at the county hospital (same resident ID).
    events = [
        patient_event("th01", "1", name="王秀英", resident_id="110101199003074573", phone="13812345678"),
        patient_event("cty01", "A77", name="王秀英", resident_id="110101199003074573", phone="13900001111"),
        patient_event("th02", "9", name="欧阳娜娜", resident_id=None),
        encounter_event("th01", "1", visit=1),
        encounter_event("cty01", "A77", visit=2),
        encounter_event("th02", "9", visit=3),
        lab_event("th01", "1"),
        rx_event("cty01", "A77"),
    ]
    with db.transaction() as session:
        writer = RecordWriter(session)
        for event in events:
            writer.apply(event)
        writer.finish()
        tokens = {
            "clinician": issue_token(session, "dr-li", "clinician", "cty01"),
            "reader": issue_token(session, "reader-zhang", "reader", "cty01"),
            "pharmacist": issue_token(session, "pharmacist-chen", "pharmacist", "cty01"),
            "connector_th01": issue_token(session, "th01-his", "connector", "th01"),
        }
    tokens["admin"] = ADMIN
    runtime = FakeRuntime()
    app = create_app(settings.model_copy(update={"admin_token": SecretStr(ADMIN)}), db, runtime)
    with TestClient(app) as client:
        yield Community(client, db, runtime, tokens, community_patient_id("th01/1"))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Pages in a real browser: the community's app served by uvicorn, and a Debian chromium page.
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def served(community: Community) -> Iterator[str]:
    app = community.client.app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def page() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()
