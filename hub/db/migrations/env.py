"""Alembic environment: the engine comes from the hub (config.attributes) or HUB_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import consumers.record_store.models  # noqa: F401 - registers the record store's tables
from hub.config import get_settings
from hub.db.models import Base

target_metadata = Base.metadata


def run() -> None:
    engine = context.config.attributes.get("engine") or create_engine(get_settings().db_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    context.configure(url=get_settings().db_url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
