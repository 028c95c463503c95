"""The search parameters the shared record serves, per resource type, as the FHIR R4 specification
defines them (name, type, the elements they index). The CapabilityStatement is generated from this table,
so what is declared is what is searched.

Paths are dotted element names; a list is searched through; `a|b` tries each alternative, `x[system=phone]`
keeps the list items whose element equals the value. `where` is where the values live:
  index      the generic table fhir_search_index (written with the resource, see extract.py)
  column     a column of fhir_resource
  code       fhir_resource_code (every coding of the searchable code elements)
  identifier fhir_resource_identifier
  person     the patient index: every member record of the person a Patient id belongs to
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "token", "date", "reference", "uri"]
Where = Literal["index", "column", "code", "identifier", "person"]

SPEC = "http://hl7.org/fhir/SearchParameter/"


@dataclass(frozen=True)
class SearchParam:
    name: str
    kind: Kind
    paths: tuple[str, ...] = ()
    where: Where = "index"
    column: str | None = None  # for where="column"
    targets: tuple[str, ...] = ()  # reference parameters: the types they point at
    doc: str = ""
    spec_id: str = ""  # the id of the SearchParameter in the R4 specification

    @property
    def definition(self) -> str:
        return f"{SPEC}{self.spec_id}" if self.spec_id else ""


def _p(name: str, kind: Kind, *paths: str, spec: str = "", doc: str = "", targets: tuple[str, ...] = (),
       where: Where = "index", column: str | None = None) -> SearchParam:
    return SearchParam(name, kind, paths, where, column, targets, doc, spec)


# Every resource type: the FHIR common parameters.
COMMON = (
    _p("_id", "token", where="column", column="id", spec="Resource-id", doc="Logical id"),
    _p("_lastUpdated", "date", where="column", column="last_updated", spec="Resource-lastUpdated",
       doc="When the hub stored the current version"),
    _p("_tag", "token", "meta.tag", spec="Resource-tag", doc="Tags (urn:hub:tag|golden: community patients)"),
    _p("_profile", "uri", "meta.profile", spec="Resource-profile", doc="Profiles the resource claims"),
)

_PERSON = ("Patient",)
_WHO = ("Practitioner", "PractitionerRole", "Organization")
_STATUS = _p("status", "token", where="column", column="status", doc="Status")
_IDENTIFIER = _p("identifier", "token", where="identifier", doc="An identifier (system|value)")
_CODE = _p("code", "token", where="code", doc="A code of the resource (system|code), any of its codings")
# Not an R4 parameter of Encounter; kept because the hub has answered it from the start.
_ANY_CODE = _p("code", "token", where="code", doc="Any coding of the resource: reason, type, class or modality "
                                                 "(a hub extension)")


def _subject(spec_type: str) -> tuple[SearchParam, SearchParam]:
    """`subject` and `patient`: the whole person, through the patient index (a community id finds every
    member's records, a member's Patient id finds the person's records at every member)."""
    return (_p("subject", "reference", where="person", targets=_PERSON, spec=f"{spec_type}-subject",
               doc="The patient (source or community id): every member record of the person"),
            _p("patient", "reference", where="person", targets=_PERSON, spec="clinical-patient",
               doc="The patient (source or community id): every member record of the person"))


PARAMETERS: dict[str, tuple[SearchParam, ...]] = {
    "Patient": (
        _p("name", "string", "name", spec="Patient-name",
           doc="Any part of a name: characters, full pinyin (wangxiuying) or pinyin initials (wxy)"),
        _p("family", "string", "name.family", spec="individual-family", doc="Family name, also in pinyin"),
        _p("given", "string", "name.given", spec="individual-given", doc="Given name, also in pinyin"),
        _p("birthdate", "date", "birthDate", spec="individual-birthdate", doc="Date of birth"),
        _p("gender", "token", "gender", spec="individual-gender", doc="male | female | other | unknown"),
        _IDENTIFIER,
        _p("phone", "token", "telecom[system=phone]", spec="individual-phone", doc="Phone number (digits compared)"),
        _p("email", "token", "telecom[system=email]", spec="individual-email", doc="Email address"),
        _p("telecom", "token", "telecom", spec="individual-telecom", doc="Any contact point value"),
        _p("address", "string", "address", spec="individual-address", doc="Any part of an address"),
        _p("address-city", "string", "address.city", spec="individual-address-city", doc="City"),
        _p("address-district", "string", "address.district", doc="District or county (区/县)"),
        _p("address-state", "string", "address.state", spec="individual-address-state", doc="Province"),
        _p("address-postalcode", "string", "address.postalCode", spec="individual-address-postalcode",
           doc="Postal code"),
        _p("active", "token", "active", spec="Patient-active", doc="Whether the record is in active use"),
        _p("organization", "reference", "managingOrganization", targets=("Organization",),
           spec="Patient-organization", doc="The organization that is the custodian of the record"),
        _p("general-practitioner", "reference", "generalPractitioner", targets=_WHO,
           spec="Patient-general-practitioner", doc="The patient's nominated primary care provider"),
        _p("link", "reference", "link.other", targets=("Patient", "RelatedPerson"), spec="Patient-link",
           doc="A linked Patient (member records and their community patient)"),
    ),
    "Encounter": (
        _p("date", "date", "period", spec="clinical-date", doc="When the encounter took place"), _ANY_CODE,
        _p("class", "token", "class", spec="Encounter-class", doc="Inpatient, outpatient, emergency, ..."),
        _p("type", "token", "type", spec="clinical-type", doc="The kind of encounter"),
        _STATUS, _IDENTIFIER, *_subject("Encounter"),
        _p("participant", "reference", "participant.individual", targets=_WHO, spec="Encounter-participant",
           doc="Persons involved"),
        _p("practitioner", "reference", "participant.individual", targets=("Practitioner",),
           spec="Encounter-practitioner", doc="Practitioners involved"),
        _p("service-provider", "reference", "serviceProvider", targets=("Organization",),
           spec="Encounter-service-provider", doc="The organization responsible"),
        _p("reason-code", "token", "reasonCode", spec="Encounter-reason-code", doc="Coded reason"),
        _p("location", "reference", "location.location", targets=("Location",), spec="Encounter-location",
           doc="Where the encounter took place"),
    ),
    "Observation": (
        _CODE,
        _p("category", "token", "category", spec="Observation-category", doc="laboratory, vital-signs, ..."),
        _p("date", "date", "effectiveDateTime|effectivePeriod|effectiveInstant", spec="clinical-date",
           doc="Clinically relevant time"),
        _STATUS, _IDENTIFIER, *_subject("Observation"),
        _p("encounter", "reference", "encounter", targets=("Encounter",), spec="clinical-encounter",
           doc="The encounter"),
        _p("performer", "reference", "performer", targets=(*_WHO, "Patient"), spec="Observation-performer",
           doc="Who performed the observation"),
        _p("based-on", "reference", "basedOn", targets=("ServiceRequest", "MedicationRequest"),
           spec="Observation-based-on", doc="The order it fulfils"),
        _p("derived-from", "reference", "derivedFrom", targets=("ImagingStudy", "Observation"),
           spec="Observation-derived-from", doc="What it was derived from (an ECG study's measurements)"),
    ),
    "MedicationRequest": (
        _CODE,
        _p("authoredon", "date", "authoredOn", spec="MedicationRequest-authoredon", doc="When it was written"),
        _p("date", "date", "dosageInstruction.timing.event", spec="medications-date",
           doc="Scheduled administration dates"),
        _STATUS,
        _p("intent", "token", "intent", spec="MedicationRequest-intent", doc="order, plan, ..."),
        _p("category", "token", "category", spec="MedicationRequest-category", doc="inpatient, outpatient, ..."),
        _p("priority", "token", "priority", spec="MedicationRequest-priority", doc="routine | urgent | ..."),
        _IDENTIFIER, *_subject("MedicationRequest"),
        _p("requester", "reference", "requester", targets=_WHO, spec="MedicationRequest-requester",
           doc="Who wrote it"),
        _p("encounter", "reference", "encounter", targets=("Encounter",), spec="medications-encounter",
           doc="The encounter"),
    ),
    "DiagnosticReport": (
        _CODE,
        _p("category", "token", "category", spec="DiagnosticReport-category", doc="LAB, RAD, ECG, ..."),
        _p("date", "date", "effectiveDateTime|effectivePeriod", spec="clinical-date", doc="Clinically relevant time"),
        _p("issued", "date", "issued", spec="DiagnosticReport-issued", doc="When it was issued"),
        _STATUS, _IDENTIFIER, *_subject("DiagnosticReport"),
        _p("encounter", "reference", "encounter", targets=("Encounter",), spec="clinical-encounter",
           doc="The encounter"),
        _p("performer", "reference", "performer", targets=_WHO, spec="DiagnosticReport-performer",
           doc="Who is responsible for the report"),
        _p("result", "reference", "result", targets=("Observation",), spec="DiagnosticReport-result",
           doc="Its observations"),
        _p("based-on", "reference", "basedOn", targets=("ServiceRequest",), spec="DiagnosticReport-based-on",
           doc="The order it answers"),
        _p("conclusion", "token", "conclusionCode", spec="DiagnosticReport-conclusion", doc="Coded conclusion"),
    ),
    "ImagingStudy": (
        _p("started", "date", "started", spec="ImagingStudy-started", doc="When the study started"),
        _p("modality", "token", "series.modality|modality", spec="ImagingStudy-modality",
           doc="Modality of a series (ECG, CT, DX, ...)"),
        _STATUS, _IDENTIFIER, *_subject("ImagingStudy"),
        _p("basedon", "reference", "basedOn", targets=("ServiceRequest",), spec="ImagingStudy-basedon",
           doc="The order"),
        _p("encounter", "reference", "encounter", targets=("Encounter",), spec="ImagingStudy-encounter",
           doc="The encounter"),
        _p("referrer", "reference", "referrer", targets=_WHO, spec="ImagingStudy-referrer", doc="Referring physician"),
        _p("interpreter", "reference", "interpreter", targets=_WHO, spec="ImagingStudy-interpreter",
           doc="Who read the study"),
        _p("endpoint", "reference", "endpoint", targets=("Endpoint",), spec="ImagingStudy-endpoint",
           doc="Where the images are"),
    ),
    "ServiceRequest": (
        _CODE,
        _p("category", "token", "category", spec="ServiceRequest-category", doc="Classification of the order"),
        _p("authored", "date", "authoredOn", spec="ServiceRequest-authored", doc="When it was ordered"),
        _p("occurrence", "date", "occurrenceDateTime|occurrencePeriod", spec="ServiceRequest-occurrence",
           doc="When it is to happen"),
        _STATUS,
        _p("intent", "token", "intent", spec="ServiceRequest-intent", doc="order, plan, ..."),
        _p("priority", "token", "priority", spec="ServiceRequest-priority", doc="routine | urgent | asap | stat"),
        _IDENTIFIER, *_subject("ServiceRequest"),
        _p("requester", "reference", "requester", targets=_WHO, spec="ServiceRequest-requester", doc="Who ordered it"),
        _p("performer", "reference", "performer", targets=_WHO, spec="ServiceRequest-performer",
           doc="Who is to perform it"),
        _p("encounter", "reference", "encounter", targets=("Encounter",), spec="clinical-encounter",
           doc="The encounter"),
    ),
    "Condition": (
        _CODE,
        _p("category", "token", "category", spec="Condition-category", doc="problem-list-item | encounter-diagnosis"),
        _p("clinical-status", "token", "clinicalStatus", spec="Condition-clinical-status",
           doc="active | recurrence | relapse | inactive | remission | resolved"),
        _p("verification-status", "token", "verificationStatus", spec="Condition-verification-status",
           doc="unconfirmed | provisional | differential | confirmed | refuted"),
        _p("onset-date", "date", "onsetDateTime|onsetPeriod", spec="Condition-onset-date", doc="Onset"),
        _p("recorded-date", "date", "recordedDate", spec="Condition-recorded-date", doc="When it was recorded"),
        _IDENTIFIER, *_subject("Condition"),
        _p("encounter", "reference", "encounter", targets=("Encounter",), spec="Condition-encounter",
           doc="The encounter"),
        _p("asserter", "reference", "asserter", targets=(*_WHO, "Patient"), spec="Condition-asserter",
           doc="Who asserted it"),
    ),
    "AllergyIntolerance": (
        _CODE,
        _p("clinical-status", "token", "clinicalStatus", spec="AllergyIntolerance-clinical-status",
           doc="active | inactive | resolved"),
        _p("verification-status", "token", "verificationStatus", spec="AllergyIntolerance-verification-status",
           doc="unconfirmed | confirmed | refuted | entered-in-error"),
        _p("criticality", "token", "criticality", spec="AllergyIntolerance-criticality", doc="low | high | unable-to-assess"),
        _p("category", "token", "category", spec="AllergyIntolerance-category",
           doc="food | medication | environment | biologic"),
        _p("type", "token", "type", spec="clinical-type", doc="allergy | intolerance"),
        _p("date", "date", "recordedDate", spec="clinical-date", doc="When it was recorded"),
        _IDENTIFIER,
        _p("patient", "reference", where="person", targets=_PERSON, spec="clinical-patient",
           doc="The patient (source or community id): every member record of the person"),
        _p("recorder", "reference", "recorder", targets=(*_WHO, "Patient"), spec="AllergyIntolerance-recorder",
           doc="Who recorded it"),
    ),
    "Task": (
        _CODE, _STATUS, _IDENTIFIER,
        _p("business-status", "token", "businessStatus", spec="Task-business-status", doc="The business status"),
        _p("priority", "token", "priority", spec="Task-priority", doc="routine | urgent | asap | stat"),
        _p("intent", "token", "intent", spec="Task-intent", doc="order, plan, ..."),
        _p("authored-on", "date", "authoredOn", spec="Task-authored-on", doc="When it was created"),
        _p("modified", "date", "lastModified", spec="Task-modified", doc="When it last changed"),
        _p("period", "date", "executionPeriod", spec="Task-period", doc="When it is being done"),
        _p("subject", "reference", where="person", targets=_PERSON, spec="Task-subject",
           doc="The patient (Task.for): every member record of the person"),
        _p("patient", "reference", where="person", targets=_PERSON, spec="Task-patient",
           doc="The patient (Task.for): every member record of the person"),
        _p("focus", "reference", "focus", targets=("ServiceRequest", "MedicationRequest", "ImagingStudy"),
           spec="Task-focus", doc="What the task is about"),
        _p("owner", "reference", "owner", targets=_WHO, spec="Task-owner", doc="Who is responsible"),
        _p("requester", "reference", "requester", targets=_WHO, spec="Task-requester", doc="Who asked for it"),
        _p("performer", "token", "performerType", spec="Task-performer", doc="The kind of performer"),
        _p("based-on", "reference", "basedOn", targets=("ServiceRequest",), spec="Task-based-on", doc="What it fulfils"),
    ),
}

RESULT_PARAMS = ("_count", "_sort", "_include", "_revinclude", "_elements", "_summary", "_total", "_cursor",
                 "_offset", "_format", "_pretty")


def served_types() -> tuple[str, ...]:
    return tuple(PARAMETERS)


def params_of(resource_type: str) -> dict[str, SearchParam]:
    return {p.name: p for p in (*COMMON, *PARAMETERS.get(resource_type, ()))}


def indexed(resource_type: str) -> list[SearchParam]:
    """The parameters whose values are written to fhir_search_index for this type."""
    return [p for p in (*COMMON, *PARAMETERS.get(resource_type, ())) if p.where == "index"]


def documented() -> dict[str, list[dict[str, str]]]:
    """Every type's parameters as CapabilityStatement.rest.resource.searchParam entries."""
    out: dict[str, list[dict[str, str]]] = {}
    for kind in PARAMETERS:
        out[kind] = [{k: v for k, v in {"name": p.name, "type": p.kind, "definition": p.definition,
                                        "documentation": p.doc}.items() if v} for p in params_of(kind).values()]
    return out


def includes() -> dict[str, list[str]]:
    return {kind: [f"{kind}:{p.name}" for p in params_of(kind).values() if p.kind == "reference"] for kind in PARAMETERS}


def revincludes() -> dict[str, list[str]]:
    """For each type, the source:parameter pairs of other types that point at it."""
    out: dict[str, list[str]] = {kind: [] for kind in PARAMETERS}
    for source in PARAMETERS:
        for param in params_of(source).values():
            for target in param.targets:
                if target in out:
                    out[target].append(f"{source}:{param.name}")
    return out
