"""Schema ids for the Confluent wire format: from the schema files (default) or a registry over REST.

File registry: a schema's id is a fingerprint of its canonical form, so every process that has the
same files agrees on ids without coordination. REST registry: the Confluent API
(`POST /subjects/{subject}/versions`, `GET /schemas/ids/{id}`), with `{topic}-value` subjects.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any, Protocol

import httpx
from fastavro.schema import load_schema, to_parsing_canonical_form

from hub.core.errors import PermanentError
from schemas import RELEASED_DIR, SCHEMA_DIR


class SchemaRegistryError(PermanentError):
    """The registry refused a schema or could not be reached."""


def load_event_schema(event_type: str, directory: Path = SCHEMA_DIR) -> dict[str, Any]:
    """The expanded schema of one event type (named types from sibling files inlined)."""
    path = directory / f"{event_type}.avsc"
    if not path.exists():
        raise SchemaRegistryError(f"no schema file {path.name} in {directory}")
    schema = load_schema(str(path), _write_hint=False)
    assert isinstance(schema, dict)
    return schema


def schema_id_of(schema: dict[str, Any]) -> int:
    canonical = to_parsing_canonical_form(schema)
    # 31 bits: Confluent ids are signed 32-bit integers and must be positive.
    return int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:4], "big") & 0x7FFFFFFF


class SchemaRegistry(Protocol):
    def register(self, subject: str, schema: dict[str, Any]) -> int: ...

    def lookup(self, schema_id: int) -> dict[str, Any]: ...


class FileSchemaRegistry:
    """Knows the current schemas and every released version under schemas/released/."""

    def __init__(self, directory: Path = SCHEMA_DIR, released: Path = RELEASED_DIR) -> None:
        self._by_id: dict[int, dict[str, Any]] = {}
        for path in sorted(directory.glob("*.avsc")):
            if path.name.startswith("hub."):
                continue  # shared named types, not events
            schema = load_event_schema(path.stem, directory)
            self._by_id[schema_id_of(schema)] = schema
        for path in sorted(released.glob("*.avsc")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            self._by_id[schema_id_of(schema)] = schema

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        schema_id = schema_id_of(schema)
        self._by_id.setdefault(schema_id, schema)
        return schema_id

    def lookup(self, schema_id: int) -> dict[str, Any]:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise SchemaRegistryError(f"unknown schema id {schema_id}: not in schemas/ or schemas/released/") from None


class RestSchemaRegistry:
    """A Confluent-compatible registry. `transport` is the test seam (httpx.MockTransport)."""

    def __init__(self, url: str, transport: httpx.BaseTransport | None = None, timeout: float = 10.0) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/"), transport=transport, timeout=timeout)
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        key = (subject, to_parsing_canonical_form(schema))
        with self._lock:
            if key in self._ids:
                return self._ids[key]
        body = {"schemaType": "AVRO", "schema": json.dumps(schema)}
        response = self._request("POST", f"/subjects/{subject}/versions", json=body)
        schema_id = int(response["id"])
        with self._lock:
            self._ids[key] = schema_id
            self._schemas[schema_id] = schema
        return schema_id

    def lookup(self, schema_id: int) -> dict[str, Any]:
        with self._lock:
            if schema_id in self._schemas:
                return self._schemas[schema_id]
        response = self._request("GET", f"/schemas/ids/{schema_id}")
        schema = json.loads(response["schema"])
        with self._lock:
            self._schemas[schema_id] = schema
        return schema

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(
                method, path, headers={"Content-Type": "application/vnd.schemaregistry.v1+json"}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise SchemaRegistryError(f"schema registry unreachable at {self._client.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise SchemaRegistryError(
                f"schema registry answered {response.status_code} to {method} {path}: {response.text[:300]}"
            )
        data = response.json()
        assert isinstance(data, dict)
        return data


def make_registry(url: str | None) -> SchemaRegistry:
    return RestSchemaRegistry(url) if url else FileSchemaRegistry()
