"""Runs Alembic migrations programmatically; the hub upgrades its database at start.

The core's history lives here; each part with tables keeps its own branch in its folder (its
`Part.migrations`), labelled with its name. The application passes the parts' directories and the
modules that declare their tables; the core never looks them up itself.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine | None = None, locations: Sequence[Path] = (),
                   model_modules: Sequence[str] = ()) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in [MIGRATIONS / "versions", *locations]))
    for module in model_modules:  # so autogenerate compares against every part's tables
        importlib.import_module(module)
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, locations: Sequence[Path] = (), model_modules: Sequence[str] = (),
            revision: str = "heads") -> None:
    command.upgrade(alembic_config(engine, locations, model_modules), revision)
