"""The connector kinds, by name. A new kind is one folder with a `part.py` and one line here."""

CONNECTORS: dict[str, str] = {
    "his_db": "connectors.his_db.part:PART",
    "fhir_rest": "connectors.fhir_rest.part:PART",
    "mllp": "connectors.mllp.part:PART",
    "dicom": "connectors.dicom.part:PART",
}
