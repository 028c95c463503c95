"""A fresh, empty database: a temporary SQLite file, or a temporary schema of the configured
PostgreSQL that is dropped afterwards. Benchmarks use it so they never write into the hub's data;
the tests use it for a database of their own per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.app import parts as registered
from hub.core.db.engine import Database


@contextmanager
def scratch_url(base_url: str | None, directory: Path, name: str = "scratch") -> Iterator[str]:
    """The URL of an empty database (not migrated); a PostgreSQL schema is dropped on exit."""
    if base_url is None or not base_url.startswith("postgresql"):
        yield f"sqlite:///{directory / f'{name}.db'}"
        return
    schema = f"{name}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def scratch_database(base_url: str | None, directory: Path, name: str = "scratch") -> Iterator[Database]:
    """A Database on `scratch_url`, migrated with every registered part."""
    with scratch_url(base_url, directory, name) as url:
        database = Database(url)
        registered.migrate(database)
        try:
            yield database
        finally:
            database.dispose()
