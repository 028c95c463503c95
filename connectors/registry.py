"""Connector kinds by name. A new kind is one module and one line here."""

from __future__ import annotations

from hub.core.connector import Connector
from hub.core.plugins import load

KINDS: dict[str, str] = {
    "his_db": "connectors.his_db.connector:HisDbConnector",
    "fhir_rest": "connectors.fhir_rest.connector:FhirRestConnector",
    "mllp": "connectors.mllp.connector:MllpConnector",
    "dicom": "connectors.dicom.connector:DicomInboxConnector",
}


def connector_class(kind: str) -> type[Connector]:
    return load(KINDS, kind, Connector, "connector kind")
