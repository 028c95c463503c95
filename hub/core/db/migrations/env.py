"""Alembic environment: the engine comes from the hub (config.attributes) or HUB_DATABASE_URL. The parts'
tables are in the metadata when the caller imported their models (hub.core.db.migrate.alembic_config)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from hub.core.config import get_settings
from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime

target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    # UTCDateTime is a Python-side wrapper; the database column is a plain timestamptz.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run() -> None:
    engine = context.config.attributes.get("engine") or create_engine(get_settings().db_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True, render_item=_render_item)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    context.configure(url=get_settings().db_url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
