"""What an imaging request event means for the reading centres, as pure functions: is it an order, an
arrival of images or a waveform, or both; which centre reads it; and the keys that match the two.

An order is a member's ServiceRequest (HIS, MLLP ORM, FHIR). An arrival is an ImagingStudy (the DICOM
inbox, STOW-RS, FHIR); the DICOM connector sends each study with a ServiceRequest it made itself
(identifier `urn:dicom:uid` only): that request is not an order of the member's, so such a study waits
as an unordered arrival until its order comes or a lead accepts it.
Orders and arrivals match on the ordering member's accession numbers and order numbers, a study's
`basedOn`, and the DICOM Study Instance UID, whichever arrives first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DICOM_UID = "urn:dicom:uid"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
LOINC = "http://loinc.org"
ACCESSION_TYPE = "ACSN"
ECG_LOINC = ("11524-6", "34534-8", "93000")
ECG_MODALITIES = ("ECG", "HD")
PATHOLOGY_MODALITIES = ("SM", "GM")
IMAGING_MODALITIES = ("CT", "DR", "CR", "DX", "US", "MR", "MG", "XA", "RF", "NM", "PT", "OT")
PRIORITIES = ("routine", "urgent", "asap", "stat")


@dataclass(frozen=True)
class Order:
    id: str
    status: str
    priority: str
    centre: str
    modality: str
    code: dict[str, Any] | None
    text: str
    reason: str
    authored_on: str | None
    patient_id: str | None
    keys: frozenset[str]
    resource: dict[str, Any]


@dataclass(frozen=True)
class Arrival:
    id: str  # the ImagingStudy id
    study_uid: str | None
    centre: str
    modality: str
    started: str | None
    description: str
    patient_id: str | None
    waveform: str | None  # blob:sha256/... of an ECG's leads
    dicom: tuple[str, ...]  # blob references of the DICOM files
    keys: frozenset[str]
    priority: str  # the priority its own request asked for (stat for 急)
    request_id: str | None  # the ServiceRequest the connector made for it
    resource: dict[str, Any]


@dataclass(frozen=True)
class Reading:
    """An imaging request event as the reading centres see it."""

    order: Order | None = None
    arrivals: tuple[Arrival, ...] = field(default=())


def reference_id(value: Any, resource_type: str) -> str | None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref.startswith(f"{resource_type}/"):
            return ref.split("/", 1)[1] or None
    return None


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def _text(concept: Any) -> str:
    if isinstance(concept, dict):
        if concept.get("text"):
            return str(concept["text"])
        for coding in _codings(concept):
            if coding.get("display"):
                return str(coding["display"])
    return ""


def centre_of(modality: str, code: Any = None, category_text: str = "") -> str:
    """Which centre reads it: ECG by LOINC 11524-6 or modality ECG, pathology by SM, else imaging."""
    codes = {str(c.get("code", "")).upper() for c in _codings(code)}
    words = category_text + " " + _text(code)
    if modality.upper() in ECG_MODALITIES or codes & set(ECG_LOINC) or codes & set(ECG_MODALITIES) or "心电" in words:
        return "ecg"
    if modality.upper() in PATHOLOGY_MODALITIES or codes & set(PATHOLOGY_MODALITIES) or "病理" in words:
        return "pathology"
    return "imaging"


def _modality_of_code(code: Any) -> str:
    for coding in _codings(code):
        value = str(coding.get("code", "")).upper()
        if coding.get("system") == DCM and value:
            return value
        if value in ECG_LOINC:
            return "ECG"
    return ""


def _key(facility: str, kind: str, value: str) -> str:
    return f"{facility}|{kind}|{value.strip()}"[:300]


def _identifier_keys(facility: str, identifiers: Any) -> set[str]:
    keys: set[str] = set()
    for ident in identifiers or []:
        if not isinstance(ident, dict) or not str(ident.get("value") or "").strip():
            continue
        value = str(ident["value"])
        if ident.get("system") == DICOM_UID:
            keys.add(_key(facility, "uid", value.removeprefix("urn:oid:")))
        else:  # order numbers and accession numbers of the member: one namespace per member
            keys.add(_key(facility, "no", value))
    return keys


def own_order_identifiers(resource: dict[str, Any]) -> bool:
    """Whether a ServiceRequest carries an identifier of the member's own (not only a DICOM UID)."""
    return any(isinstance(i, dict) and i.get("system") != DICOM_UID and i.get("value")
               for i in resource.get("identifier") or [])


def read_order(resource: dict[str, Any], facility: str) -> Order:
    category = " ".join(_text(c) for c in resource.get("category") or [])
    modality = _modality_of_code(resource.get("code")) or ""
    centre = centre_of(modality, resource.get("code"), category)
    keys = _identifier_keys(facility, resource.get("identifier"))
    keys.add(_key(facility, "order", str(resource["id"])))
    priority = str(resource.get("priority") or "routine")
    reason = "; ".join(_text(r) for r in resource.get("reasonCode") or [] if _text(r))
    return Order(
        id=str(resource["id"]),
        status=str(resource.get("status") or "active"),
        priority=priority if priority in PRIORITIES else "routine",
        centre=centre,
        modality=modality or {"ecg": "ECG", "pathology": "SM"}.get(centre, "OT"),
        code=resource.get("code") if isinstance(resource.get("code"), dict) else None,
        text=_text(resource.get("code")),
        reason=reason,
        authored_on=resource.get("authoredOn"),
        patient_id=reference_id(resource.get("subject"), "Patient"),
        keys=frozenset(keys),
        resource=resource,
    )


def _extension(resource: dict[str, Any], url: str) -> list[str]:
    return [str(e.get("valueString")) for e in resource.get("extension") or []
            if isinstance(e, dict) and e.get("url") == url and e.get("valueString")]


def read_arrival(study: dict[str, Any], facility: str, request: dict[str, Any] | None) -> Arrival:
    modalities = [str(m.get("code", "")) for m in study.get("modality") or [] if isinstance(m, dict)]
    modality = (modalities[0] if modalities else "") or "OT"
    waveforms = _extension(study, "urn:hub:blob:ecg")
    waveform = waveforms[0] if waveforms else None
    category = " ".join(_text(c) for c in (request or {}).get("category") or [])
    centre = "ecg" if waveform else centre_of(modality, (request or {}).get("code"), category)
    keys = _identifier_keys(facility, study.get("identifier"))
    for based in study.get("basedOn") or []:
        order = reference_id(based, "ServiceRequest")
        if order:
            keys.add(_key(facility, "order", order))
    priority = str((request or {}).get("priority") or "routine")
    return Arrival(
        id=str(study["id"]),
        study_uid=next((str(i["value"]).removeprefix("urn:oid:") for i in study.get("identifier") or []
                        if isinstance(i, dict) and i.get("system") == DICOM_UID and i.get("value")), None),
        centre=centre,
        modality=modality.upper(),
        started=study.get("started"),
        description=str(study.get("description") or ""),
        patient_id=reference_id(study.get("subject"), "Patient"),
        waveform=waveform,
        dicom=tuple(_extension(study, "urn:hub:blob:dicom")),
        keys=frozenset(keys),
        priority=priority if priority in PRIORITIES else "routine",
        request_id=str(request["id"]) if request and request.get("id") else None,
        resource=study,
    )


def read_event(resource: dict[str, Any], related: tuple[dict[str, Any], ...], facility: str) -> Reading:
    """An imaging request event: its order (if the member ordered it) and its arrived studies."""
    studies = [r for r in (resource, *related) if r.get("resourceType") == "ImagingStudy" and r.get("id")]
    request = resource if resource.get("resourceType") == "ServiceRequest" and resource.get("id") else None
    order = None
    if request is not None and (not studies or own_order_identifiers(request)):
        order = read_order(request, facility)
    arrivals = tuple(read_arrival(s, facility, request) for s in studies)
    if order is not None and arrivals:  # an order that came with its images: they belong together
        arrivals = tuple(_with_key(a, f"{facility}|order|{order.id}") for a in arrivals)
    return Reading(order, arrivals)


def _with_key(arrival: Arrival, key: str) -> Arrival:
    return Arrival(**{**arrival.__dict__, "keys": arrival.keys | {key}})
