"""The registered parts, as the application sees them: the one place that reads the registries.

Everything the application mounts for a part (its consumer or connector class, tables, routes,
pages, command-line verbs, workers and services) comes from the part's `Part` description here.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import Any

from connectors.registry import CONNECTORS
from consumers.registry import CONSUMERS
from hub.core.connector import Connector, ConnectorConfig
from hub.core.consumer import Consumer
from hub.core.db import Database
from hub.core.parts import Part, load_class, load_parts, resolve
from hub.core.services import Services


def consumer_parts() -> list[Part]:
    return load_parts(CONSUMERS)


def connector_parts() -> list[Part]:
    return load_parts(CONNECTORS)


def all_parts() -> list[Part]:
    """Consumers first, then connector kinds, each in registry order."""
    return consumer_parts() + connector_parts()


def consumer_class(name: str) -> type[Consumer]:
    targets = {part.name: part.consumer for part in consumer_parts() if part.consumer}
    cls: type[Consumer] = load_class(targets, name, Consumer, "consumer")
    return cls


def all_consumers() -> list[type[Consumer]]:
    return [consumer_class(part.name) for part in consumer_parts() if part.consumer]


def connector_kinds() -> Collection[str]:
    return [part.name for part in connector_parts() if part.connector]


def connector_class(kind: str) -> type[Connector]:
    targets = {part.name: part.connector for part in connector_parts() if part.connector}
    cls: type[Connector] = load_class(targets, kind, Connector, "connector kind")
    return cls


def load_connector_config(path: Path) -> ConnectorConfig:
    """A connector config file whose kind is a registered connector kind."""
    return ConnectorConfig.load(path, connector_kinds())


def migration_locations(parts: list[Part] | None = None) -> list[Path]:
    return [part.migrations for part in (parts if parts is not None else all_parts()) if part.migrations]


def model_modules(parts: list[Part] | None = None) -> list[str]:
    return [part.models for part in (parts if parts is not None else all_parts()) if part.models]


def migrate(database: Database) -> None:
    """Upgrades the database to the core's head and every registered part's head."""
    parts = all_parts()
    database.migrate(migration_locations(parts), model_modules(parts))


def services(parts: list[Part] | None = None) -> Services:
    """One instance of each service the parts offer; two parts offering one service is a mistake."""
    offered: dict[str, Any] = {}
    for part in parts if parts is not None else all_parts():
        for name, target in part.provides.items():
            if name in offered:
                raise ValueError(f"two parts offer the service {name!r}; the second is {part.name}")
            offered[name] = resolve(target)()
    return Services(offered)


@cache
def _resolved(target: str) -> Any:
    return resolve(target)


def load(target: str) -> Any:
    """The object a part names ("module:attribute"), loaded once."""
    return _resolved(target)
