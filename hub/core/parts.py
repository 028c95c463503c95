"""What a part (a connector kind or a consumer) brings to the hub, as plain data.

Each part's folder has a `part.py` with one `PART = Part(...)`; its registry (`connectors/registry.py`,
`consumers/registry.py`) names it in one line. The application reads these descriptions and mounts
what they name: the consumer or connector class, tables and migrations, HTTP routes, pages and their
navigation entry, command-line verbs, background workers and services offered to others. Everything
is named by "module:attribute" strings so a part's dependencies load only when it is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Page:
    """A page of the part: served at `path` from the template `template` in the part's `pages/`."""

    path: str
    template: str
    title_en: str
    title_zh: str
    nav: bool = True  # has an entry in every page's navigation


@dataclass(frozen=True)
class Part:
    name: str
    description: str
    consumer: str | None = None  # "module:Class" of its hub.core.consumer.Consumer
    connector: str | None = None  # "module:Class" of its hub.core.connector.Connector
    # "module:function(settings) -> list[ConnectorConfig]": instances the hub always runs (push
    # connectors whose sinks sit behind the part's HTTP routes)
    instances: str | None = None
    models: str | None = None  # module that declares its tables (imported so the metadata has them)
    migrations: Path | None = None  # its Alembic versions directory, one branch labelled with its name
    routers: tuple[str, ...] = ()  # "module:router" FastAPI APIRouters
    pages: tuple[Page, ...] = ()
    pages_dir: Path | None = None  # its templates and their scripts (served at /static/<name>/)
    cli: tuple[str, str] | None = None  # ("verb", "module:typer_app"): `hub <verb> ...`; its commands find
    # the PartContext in `typer.Context.obj`
    workers: tuple[str, ...] = ()  # "module:function(PartContext, stop)" loops the runner starts beside it
    app_setup: tuple[str, ...] = ()  # "module:function(app)" run when the HTTP app is made (load rules: a
    # bad rules file stops the hub at start with one line)
    # Services it offers to the application and to other parts by name (see hub/core/services.py):
    provides: Mapping[str, str] = field(default_factory=dict)


def resolve(target: str) -> Any:
    """The object a "module:attribute" string names."""
    module, _, attribute = target.partition(":")
    if not module or not attribute:
        raise ValueError(f"{target!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module), attribute)


def load_class(registry: Mapping[str, str], name: str, base: type, what: str) -> Any:
    """The class a registry entry names, checked to be a `base`."""
    try:
        target = registry[name]
    except KeyError:
        raise KeyError(f"unknown {what} {name!r}; known {what}s: {', '.join(sorted(registry))}") from None
    cls = resolve(target)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{target} is not a {base.__name__}")
    return cls


def load_parts(registry: Mapping[str, str]) -> list[Part]:
    """The parts a registry names ("name": "module:PART"), in registry order."""
    parts = []
    for name, target in registry.items():
        part = resolve(target)
        if not isinstance(part, Part):
            raise TypeError(f"{target} is not a Part")
        if part.name != name:
            raise ValueError(f"{target} calls itself {part.name!r} but is registered as {name!r}")
        parts.append(part)
    return parts


@dataclass(frozen=True)
class PartContext:
    """What a part's workers and command-line verbs get from the application."""

    settings: Any  # hub.core.config.HubSettings
    database: Any  # hub.core.db.Database, migrated
    services: Any  # hub.core.services.Services
    results: Any = None  # hub.core.results.ResultOutbox: where a part's own events (reports, notices) go
