"""The demo month applied straight to the consumers (the broker path is tested in test_month.py), two remote
reads signed in it, and the hub's app on it with a manager's token and others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr

from consumers.indicators.consumer import IndicatorConsumer
from consumers.reading.models import ReadingItem
from consumers.record_store.writer import RecordWriter
from consumers.referrals.consumer import ReferralConsumer
from hub.app.api.app import create_app
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.web.auth import issue_token
from tests.api.conftest import ADMIN, FakeRuntime, page  # noqa: F401 - the browser fixture, shared
from tests.conftest import free_port
from tests.consumers.referral_factories import deliveries
from tests.indicators.factories import at, october


@dataclass
class Month:
    client: TestClient
    db: Database
    tokens: dict[str, str]


def apply_october(db: Database, settings: HubSettings) -> None:
    events = october()
    with db.transaction() as session:
        writer = RecordWriter(session)
        for event in events:
            writer.apply(event)
        writer.finish()
        batch = deliveries(events)
        ReferralConsumer(settings, levels={}).apply_batch(
            session, [d for d in batch if d.event and d.event.event_type in ("referral", "encounter")])
        IndicatorConsumer(settings).apply_batch(
            session, [d for d in batch if d.event and d.event.event_type in IndicatorConsumer.event_types])
        # Two reads signed in October: an ECG of th01 in 30 minutes, a CT of vc01 in 3 hours.
        for item_id, centre, modality, facility, key, ready, hours in (
                ("ri-1", "ecg", "ECG", "th01", "th01/a1", at(10, 9, 10), 0.5),
                ("ri-2", "imaging", "CT", "vc01", "vc01/c1", at(10, 20, 11), 3.0)):
            session.add(ReadingItem(id=item_id, centre=centre, modality=modality, state="done", stage="first",
                                    priority="routine", facility_id=facility, patient_key=key,
                                    patient_id=key.replace("/", "-pat-"), created_at=ready, ready_at=ready,
                                    done_at=ready + timedelta(hours=hours), escalation=0, second_reading=False,
                                    updated_at=ready))


@pytest.fixture
def month(db: Database, settings: HubSettings) -> Iterator[Month]:
    apply_october(db, settings)
    with db.transaction() as session:
        tokens = {role: issue_token(session, f"{role}-1", role, "cty01") for role in ("manager", "clinician")}
    tokens["admin"] = ADMIN
    app = create_app(settings.model_copy(update={"admin_token": SecretStr(ADMIN)}), db, FakeRuntime())
    with TestClient(app) as client:
        yield Month(client, db, tokens)


@pytest.fixture
def served_month(month: Month) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(month.client.app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(5)
