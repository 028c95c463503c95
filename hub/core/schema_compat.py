"""Backward compatibility of event schemas, checked with Apache Avro's own resolution rules.

Backward: consumers on the new schema can read everything written with an older one, so
consumers may be upgraded before connectors (Confluent's BACKWARD_TRANSITIVE when run on all
released versions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas import RELEASED_DIR


@dataclass(frozen=True)
class Incompatibility:
    event_type: str
    released: str
    messages: tuple[str, ...]
    locations: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.event_type}: the current schema cannot read data written with {self.released}: "
            f"{'; '.join(self.messages)} at {', '.join(self.locations)}"
        )


def backward_incompatibilities(new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, str]]:
    """(message, location) pairs; empty when `new` can read what `old` wrote."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(new)), avro.schema.parse(json.dumps(old))
    )
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    return list(zip(result.messages or ["incompatible"], result.locations or ["/"], strict=False))


def check_released(current: dict[str, dict[str, Any]], released_dir: Path = RELEASED_DIR) -> list[Incompatibility]:
    """Checks each current event schema against every released version of the same event type."""
    problems: list[Incompatibility] = []
    for path in sorted(released_dir.glob("*.avsc")):
        event_type = path.name.split(".")[0]
        if event_type not in current:
            problems.append(Incompatibility(event_type, path.name, ("the event type was removed",), ("/",)))
            continue
        found = backward_incompatibilities(current[event_type], json.loads(path.read_text(encoding="utf-8")))
        if found:
            problems.append(
                Incompatibility(event_type, path.name, tuple(m for m, _ in found), tuple(loc for _, loc in found))
            )
    return problems
