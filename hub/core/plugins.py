"""Loading registered parts (connector kinds, consumers) from "module:Class" strings, lazily, so a
part's dependencies are imported only when it is used."""

from __future__ import annotations

import importlib
from typing import TypeVar

T = TypeVar("T")


def load(registry: dict[str, str], name: str, base: type[T], what: str) -> type[T]:
    try:
        target = registry[name]
    except KeyError:
        raise KeyError(f"unknown {what} {name!r}; known {what}s: {', '.join(sorted(registry))}") from None
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{target} is not a {base.__name__}")
    return cls
