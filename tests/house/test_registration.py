"""Adding a consumer with tables, a route and a page is one folder and one registration line.

The probe (tests/house/probe_part/) is registered with one line, as a real consumer is in
consumers/registry.py; nothing else in the hub is told about it. The hub then migrates its table on its
own branch, mounts its route, serves its page and lists it in every page's navigation.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import inspect, text

from consumers.registry import CONSUMERS
from hub.app import parts as registered
from hub.app.api.app import create_app
from hub.app.pages.site import HEADERS
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.db.models import Base
from tests.factories import patient_event

PROBE = "tests.house.probe_part"
ADMIN = "probe-admin-token"


def _forget_the_probe() -> None:
    """Base.metadata and the loaded modules are process-wide: the probe's table must not reach the tests
    that compare the metadata with a database migrated without it (tests/hub/test_migrations.py)."""
    table = Base.metadata.tables.get("probe_note")
    if table is not None:
        Base.metadata.remove(table)
    for module in [name for name in sys.modules if name == PROBE or name.startswith(PROBE + ".")]:
        del sys.modules[module]
    registered._resolved.cache_clear()  # `load` would keep the probe's router


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _forget_the_probe()
    monkeypatch.setitem(CONSUMERS, "probe", f"{PROBE}.part:PART")  # the one registration line
    yield
    _forget_the_probe()


@pytest.fixture
def probe_db(probe: None, database_url: str) -> Iterator[Database]:
    """A fresh database (a SQLite file, or a scratch PostgreSQL schema) migrated with the probe registered."""
    database = Database(database_url)
    registered.migrate(database)
    yield database
    database.dispose()


def _nav(html: str) -> str:
    found = re.search(r'<nav class="pages".*?</nav>', html, re.S)
    assert found, html
    return found[0]


def test_a_registered_consumer_gets_its_table_route_page_and_nav_entry(
    probe_db: Database, settings: HubSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert registered.consumer_class("probe").__name__ == "ProbeConsumer"
    assert "probe" in [part.name for part in registered.consumer_parts()]

    # Its table, made by its own migration branch beside the core's and the other parts' heads.
    assert "probe_note" in inspect(probe_db.engine).get_table_names()
    with probe_db.engine.connect() as connection:
        heads = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert "probe0001" in heads and len(heads) > 1
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []

    # Its consumer writes the table; its route, mounted by the app, reads it.
    event = patient_event("th01", "1")
    with probe_db.transaction() as session:
        registered.consumer_class("probe")(settings).apply(session, Delivery("t", 0, 0, None, None, (), 0, event))
    app = create_app(settings.model_copy(update={"admin_token": SecretStr(ADMIN)}), probe_db)
    with TestClient(app) as client:
        assert client.get("/api/probe/notes").status_code == 401
        answer = client.get("/api/probe/notes", headers={"Authorization": f"Bearer {ADMIN}"})
        assert answer.status_code == 200
        assert answer.json() == {"notes": [{"event_id": event.event_id, "event_type": "patient"}]}

        # Its page, from its own template extending the base, and its script under /static/probe/.
        page = client.get("/probe")
        assert page.status_code == 200 and "<title>County Hub · 探针</title>" in page.text
        assert '<table id="probe-notes">' in page.text and '<script src="/static/probe/probe.js">' in page.text
        assert {k: page.headers[k] for k in HEADERS} == HEADERS
        assert '<a href="/probe" aria-current="page">探针</a>' in _nav(page.text)
        assert "getJson(\"/api/probe/notes\")" in client.get("/static/probe/probe.js").text
        assert client.get("/static/probe/probe.html").status_code == 404  # templates are rendered, not served

        # Its entry in another page's navigation, in the language the reader chose.
        status_nav = _nav(client.get("/status").text)
        assert '<a href="/probe">探针</a>' in status_nav and '<a href="/referrals">双向转诊</a>' in status_nav
        client.cookies.set("hub_lang", "en")
        assert '<a href="/probe">Probe</a>' in _nav(client.get("/status").text)

    # Without its registration line the hub knows nothing of it.
    monkeypatch.delitem(CONSUMERS, "probe")
    with TestClient(create_app(settings, probe_db)) as client:
        assert client.get("/probe").status_code == 404
        assert client.get("/api/probe/notes").status_code == 404
        assert "/probe" not in _nav(client.get("/status").text)
