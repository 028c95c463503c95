"""A fresh, empty database for a benchmark: a temporary SQLite file, or a temporary schema of the
configured PostgreSQL that is dropped afterwards, so benchmarks never write into the hub's data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.db.engine import Database


@contextmanager
def scratch_database(base_url: str | None, directory: Path, name: str = "scratch") -> Iterator[Database]:
    if base_url is None or not base_url.startswith("postgresql"):
        database = Database(f"sqlite:///{directory / f'{name}.db'}")
        database.migrate()
        try:
            yield database
        finally:
            database.dispose()
        return
    schema = f"{name}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        database = Database(url.render_as_string(hide_password=False))
        database.migrate()
        try:
            yield database
        finally:
            database.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
