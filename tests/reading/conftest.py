"""The reading centres over a real database: the shared record of tests/api (王秀英 at th01 and cty01),
reader and lead tokens, and the reading consumer to feed imaging requests through."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr

from consumers.reading.consumer import ReadingConsumer
from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.writer import RecordWriter
from hub.app.api.app import create_app
from hub.core import kafka_io
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.web.auth import issue_token
from tests.api.conftest import Community, auth, community, page, served  # noqa: F401 - fixtures used here
from tests.conftest import free_port
from tests.factories import BASE_TIME, patient_event
from tests.hub.test_consuming import runner_for
from tests.waiting import wait_for

__all__ = ["LiveHub", "Reading", "auth"]
LIVE_ADMIN = "reading-live-admin"


@dataclass
class Reading:
    community: Community
    consumer: ReadingConsumer

    @property
    def client(self) -> TestClient:
        return self.community.client

    @property
    def db(self) -> Database:
        return self.community.db

    def token(self, name: str) -> str:
        return self.community.tokens[name]

    def feed(self, events: Iterable[Event]) -> None:
        with self.db.transaction() as session:
            for event in events:
                self.consumer.apply(session, Delivery("t", 0, 0, None, None, (), 0, event))

    def get(self, url: str, who: str = "reader", **params: Any) -> Any:
        return self.client.get(url, params=params, headers=auth(self.token(who)))

    def post(self, url: str, who: str = "reader", body: Any = None) -> Any:
        return self.client.post(url, json=body if body is not None else {}, headers=auth(self.token(who)))

    def put(self, url: str, who: str = "reader", body: Any = None) -> Any:
        return self.client.put(url, json=body, headers=auth(self.token(who)))


@pytest.fixture
def reading(community: Community) -> Iterator[Reading]:  # noqa: F811 - the fixture imported above
    with community.db.transaction() as session:
        community.tokens["reader2"] = issue_token(session, "reader-li", "reader", "cty01")
        community.tokens["lead"] = issue_token(session, "lead-wang", "reading_lead", "cty01")
    yield Reading(community, ReadingConsumer(community.client.app.state.settings))


# A whole hub on the real broker, for the browser: record store and reading consumers, the results
# relay, and the app served by uvicorn.

@dataclass
class LiveHub:
    url: str
    db: Database
    settings: Any
    tokens: dict[str, str]
    app: Any

    def api(self, method: str, path: str, who: str = "admin", **kwargs: Any) -> Any:
        return httpx.request(method, self.url + path, headers=auth(self.tokens[who]), timeout=30, **kwargs)


@pytest.fixture
def live_hub(broker_settings: Any, db: Database) -> Iterator[LiveHub]:
    kafka_io.ensure_topics(broker_settings)
    settings = broker_settings.model_copy(update={"admin_token": SecretStr(LIVE_ADMIN)})
    with db.transaction() as session:
        writer = RecordWriter(session)
        for event in (patient_event("th01", "1", name="王秀英", resident_id="110101199003074573"),
                      patient_event("cty01", "A77", name="王秀英", resident_id="110101199003074573"),
                      earlier_ecg()):
            writer.apply(event)
        writer.finish()
        tokens = {"reader": issue_token(session, "reader-zhang", "reader", "cty01"),
                  "reader2": issue_token(session, "reader-li", "reader", "cty01"),
                  "lead": issue_token(session, "lead-wang", "reading_lead", "cty01"), "admin": LIVE_ADMIN}
    app = create_app(settings, db)
    with serving(app, settings, db, [RecordStoreConsumer(settings), ReadingConsumer(settings)]) as url:
        yield LiveHub(url, db, settings, tokens, app)


@contextmanager
def serving(app: Any, settings: Any, db: Database, consumers: list[Any],
            workers: Iterable[tuple[Callable[..., None], tuple[Any, ...]]] = ()) -> Iterator[str]:
    """The app on uvicorn with the results relay, the consumers on the broker and any part workers
    (`(function, args)`, each also given the stop event), until the block ends. Yields the base URL."""
    relay = app.state.results.relay()
    stop = threading.Event()
    threads = [threading.Thread(target=relay.run, args=(stop, 1.0), daemon=True)]
    threads += [threading.Thread(target=runner_for(c, settings, db).run, args=(stop,), daemon=True) for c in consumers]
    threads += [threading.Thread(target=function, args=(*args, stop), daemon=True) for function, args in workers]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threads.append(threading.Thread(target=server.run, daemon=True))
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: server.started, 20)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        stop.set()
        relay.wake()
        for thread in threads:
            thread.join(15)


def earlier_ecg() -> Event:
    """An ECG of the same person read at the county hospital last month: for side by side."""
    study = {"resourceType": "ImagingStudy", "id": "cty01-img-old-1", "status": "available",
             "extension": [{"url": "urn:hub:blob:ecg", "valueString": "blob:sha256/" + "c" * 64}],
             "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.840.99.1"}],
             "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "ECG"}],
             "subject": {"reference": "Patient/cty01-pat-A77"}, "started": "2026-10-20T09:00:00+08:00",
             "description": "常规心电图"}
    return Event(deterministic_event_id("cty01", "test", "old-ecg", "0"), "imaging_request",
                 Source("cty01", "test", "old-ecg"), BASE_TIME, BASE_TIME, "cty01/A77", study)
