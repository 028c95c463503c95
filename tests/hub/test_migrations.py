"""The Alembic migrations build exactly the tables the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import consumers.record_store.models  # noqa: F401 - registers the tables
import consumers.referrals.models  # noqa: F401
from hub.db import Database
from hub.db.models import Base


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diffs == []


def test_downgrade_and_upgrade_again(db: Database) -> None:
    from alembic import command

    from hub.db.migrate import alembic_config

    config = alembic_config(db.engine)
    command.downgrade(config, "0001")
    command.upgrade(config, "head")
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
