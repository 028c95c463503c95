"""Session fixtures: a real broker (Tansu) and a real database (SQLite, or PostgreSQL when
HUB_TEST_DATABASE_URL names one). Each test gets its own topic prefix and its own database
(a file, or a schema), so tests never see each other's data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from hub.app import parts as registered
from hub.core.broker import EmbeddedBroker, free_port
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.tools.scratch import scratch_url

# Speed is measured by the benchmarks, never by timed tests: a property test that takes 300 ms on a
# loaded 2-core CI machine is not a failure.
settings.register_profile("hub", deadline=None)
settings.load_profile("hub")

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL only the tests that touch a database run: the others (parsers, pages' scripts, the
    broker alone, SQLite-only settings) would run the very same code a second time, and CI's time goes
    to the legs that differ. A test reaches the database through `database_url` (every database
    fixture builds on it) or says so with the `postgres` marker."""
    if not PG_URL:
        return
    kept, dropped = [], []
    for item in items:
        uses_database = "database_url" in getattr(item, "fixturenames", ()) or item.get_closest_marker("postgres")
        (kept if uses_database else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(free_port(), log_file=log) as running:
        yield running


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test."""
    with scratch_url(PG_URL, tmp_path, "hub" if not PG_URL else "t") as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    registered.migrate(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> HubSettings:
    """Settings without a broker: for tests that need none."""
    return HubSettings(data_dir=tmp_path, database_url=database_url, kafka_bootstrap="127.0.0.1:1")


@pytest.fixture
def broker_settings(tmp_path: Path, database_url: str, broker: EmbeddedBroker) -> HubSettings:
    """Settings on the shared test broker, with topics and groups private to this test."""
    return HubSettings(
        data_dir=tmp_path,
        database_url=database_url,
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
    )
