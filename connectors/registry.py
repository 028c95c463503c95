"""Connector kinds by name. A new kind is one module and one line here."""

from __future__ import annotations

import importlib

from connectors.base import Connector

KINDS: dict[str, str] = {
    "his_db": "connectors.his_db.connector:HisDbConnector",
    "fhir_rest": "connectors.fhir_rest.connector:FhirRestConnector",
    "mllp": "connectors.mllp.connector:MllpConnector",
    "dicom": "connectors.dicom.connector:DicomInboxConnector",
}


def connector_class(kind: str) -> type[Connector]:
    try:
        target = KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown connector kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}") from None
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, Connector)
    return cls
