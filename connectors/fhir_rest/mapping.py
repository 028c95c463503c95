"""Pure rules of FHIR REST ingest: server-assigned ids, patient keys, references inside a Bundle."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from hub.core.errors import PermanentError
from hub.core.identifiers import fhir_id, is_hashed_id, local_mrn_system, made_for
from hub.core.topics import event_type_for

KIND = {
    "Patient": "pat", "Encounter": "enc", "MedicationRequest": "rx", "DiagnosticReport": "dr",
    "Observation": "obs", "ServiceRequest": "sr", "ImagingStudy": "img", "Task": "task",
    "MedicationDispense": "disp", "AllergyIntolerance": "alg",
}
ACCEPTED = tuple(KIND)


class IngestError(PermanentError, ValueError):
    def __init__(self, message: str, expression: str, status: int = 422) -> None:
        super().__init__(message)
        self.expression = expression
        self.status = status


def local_patient_id(patient: dict[str, Any], facility: str) -> str:
    """The member's own record number of a posted Patient (its MRN identifier), else a stable hash."""
    for identifier in patient.get("identifier") or []:
        if identifier.get("system") == local_mrn_system(facility) and identifier.get("value"):
            return str(identifier["value"])
    if patient.get("identifier"):
        first = patient["identifier"][0]
        return "h" + hashlib.sha256(f"{first.get('system')}|{first.get('value')}".encode()).hexdigest()[:16]
    return "u" + uuid.uuid4().hex[:16]


def clean_id(text: str) -> str:
    """A FHIR id for `facility-kind-local`: injective and the same at every door (hub.core.identifiers)."""
    return fhir_id(text)


def assign_id(resource: dict[str, Any], facility: str) -> str:
    """Server-assigned id: stable for the same business identifier, so a resend is a duplicate."""
    rtype = resource["resourceType"]
    if rtype == "Patient":
        return clean_id(f"{facility}-pat-{local_patient_id(resource, facility)}")
    identifiers = resource.get("identifier") or []
    if identifiers:
        first = identifiers[0]
        digest = hashlib.sha256(f"{first.get('system')}|{first.get('value')}".encode()).hexdigest()[:20]
        return clean_id(f"{facility}-{KIND[rtype]}-{digest}")
    return clean_id(f"{facility}-{KIND[rtype]}-{uuid.uuid4().hex[:20]}")


def patient_key_for(resource: dict[str, Any], facility: str, where: str,
                    known: Mapping[str, str] | None = None) -> str:
    """`facility/local-id` of the patient a resource is about (the Kafka key). `known` maps the
    Patient ids of the same Bundle to their keys. A hashed id (hub.core.identifiers) cannot be read back
    to its record number: its key is then the id, and the record store files the resource under
    the Patient its reference names (consumers/record_store/store.py)."""
    if resource["resourceType"] == "Patient":
        return f"{facility}/{local_patient_id(resource, facility)}"
    for field in ("subject", "patient", "for"):  # a Task names its patient in `for`
        reference = (resource.get(field) or {}).get("reference")
        if isinstance(reference, str) and reference.startswith("Patient/"):
            patient_id = reference.split("/", 1)[1]
            if known and patient_id in known:
                return known[patient_id]
            if not made_for(patient_id, facility, "pat"):
                # Another member's patient, a community patient, or no id the hub ever gave:
                # filed anywhere, it would be out of every view or in another member's record.
                raise IngestError(f"{reference} is not one of {facility}'s patients; a member sends resources "
                                  f"about its own patients, by the id the hub gave them ({facility}-pat-...)",
                                  f"{where}.{field}", 403)
            prefix = f"{facility}-pat-"
            readable = patient_id.startswith(prefix) and not is_hashed_id(patient_id)
            local = patient_id[len(prefix):] if readable else patient_id
            return f"{facility}/{local}"
    raise IngestError(f"{resource['resourceType']} must reference its Patient (subject)", f"{where}.subject")


def event_type(resource: dict[str, Any], where: str) -> str:
    rtype = resource.get("resourceType")
    if rtype not in ACCEPTED:
        raise IngestError(f"resource type {rtype!r} is not accepted for ingest; accepted: {', '.join(ACCEPTED)}",
                          f"{where}.resourceType")
    try:
        return event_type_for(resource)  # by content: a referral ServiceRequest is not an imaging request
    except KeyError:
        raise IngestError(f"a {rtype} is accepted only as part of a referral (focus: ServiceRequest/…)",
                          f"{where}.focus") from None


def rewrite_references(node: Any, ids: dict[str, str]) -> Any:
    """Replaces Bundle-internal references (fullUrl such as urn:uuid:…) with assigned ids."""
    if isinstance(node, dict):
        out = {k: rewrite_references(v, ids) for k, v in node.items()}
        if isinstance(out.get("reference"), str) and out["reference"] in ids:
            out["reference"] = ids[out["reference"]]
        return out
    if isinstance(node, list):
        return [rewrite_references(v, ids) for v in node]
    return node
