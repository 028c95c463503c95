"""Every search parameter the CapabilityStatement declares finds a resource that has the value and not one
that lacks it: one stored resource per served type with every searched element filled in."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.record_store.search.parameters import PARAMETERS, params_of
from hub.core.db import Database
from hub.core.events import Event, Source, deterministic_event_id
from tests.api.conftest import Community
from tests.factories import BASE_TIME
from tests.fhir_search.conftest import get, ids, store

SNOMED, LOINC, ACT = "http://snomed.info/sct", "http://loinc.org", "http://terminology.hl7.org/CodeSystem/v3-ActCode"
WHEN = "2026-11-20T09:30:00+08:00"


def cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def ref(target: str) -> dict[str, str]:
    return {"reference": target}


SUBJECT = ref("Patient/th05-pat-1")
RESOURCES: dict[str, dict[str, Any]] = {
    "Encounter": {"status": "finished", "class": {"system": ACT, "code": "IMP"}, "type": [cc(SNOMED, "183452005")],
                  "subject": SUBJECT, "period": {"start": WHEN, "end": "2026-11-22T10:00:00+08:00"},
                  "participant": [{"individual": ref("Practitioner/dr-1")}], "serviceProvider": ref("Organization/th05"),
                  "reasonCode": [cc("http://hl7.org/fhir/sid/icd-10", "I10")], "location": [{"location": ref("Location/ward-3")}],
                  "identifier": [{"system": "urn:th05:visit", "value": "V1"}]},
    "Observation": {"status": "final", "code": cc(LOINC, "2345-7"), "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")],
                    "subject": SUBJECT, "effectiveDateTime": WHEN, "encounter": ref("Encounter/th05-enc-1"),
                    "performer": [ref("Organization/th05")], "basedOn": [ref("ServiceRequest/th05-sr-1")],
                    "derivedFrom": [ref("ImagingStudy/th05-img-1")], "identifier": [{"system": "urn:th05:obs", "value": "O1"}]},
    "MedicationRequest": {"status": "active", "intent": "order", "medicationCodeableConcept": cc("urn:hub:code:drug", "D0011"),
                          "category": [cc("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "outpatient")],
                          "priority": "urgent", "subject": SUBJECT, "authoredOn": WHEN, "requester": ref("Practitioner/dr-1"),
                          "encounter": ref("Encounter/th05-enc-1"), "identifier": [{"system": "urn:th05:rx", "value": "R1"}],
                          "dosageInstruction": [{"timing": {"event": ["2026-11-21T08:00:00+08:00"]}}]},
    "DiagnosticReport": {"status": "final", "code": cc(LOINC, "24331-1"), "category": [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB")],
                         "subject": SUBJECT, "effectiveDateTime": WHEN, "issued": "2026-11-20T12:00:00+08:00",
                         "encounter": ref("Encounter/th05-enc-1"), "performer": [ref("Organization/th05")],
                         "result": [ref("Observation/th05-obs-1")], "basedOn": [ref("ServiceRequest/th05-sr-1")],
                         "conclusionCode": [cc(SNOMED, "281900007")], "identifier": [{"system": "urn:th05:dr", "value": "DR1"}]},
    "ImagingStudy": {"status": "available", "subject": SUBJECT, "started": WHEN, "basedOn": [ref("ServiceRequest/th05-sr-1")],
                     "encounter": ref("Encounter/th05-enc-1"), "referrer": ref("Practitioner/dr-1"),
                     "interpreter": [ref("Practitioner/dr-2")], "endpoint": [ref("Endpoint/pacs")],
                     "series": [{"uid": "1.2.3", "modality": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "ECG"}}],
                     "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4"}]},
    "ServiceRequest": {"status": "active", "intent": "order", "priority": "stat", "code": cc(LOINC, "11524-6"),
                       "category": [cc(SNOMED, "363679005")], "subject": SUBJECT, "authoredOn": WHEN,
                       "occurrenceDateTime": "2026-11-21T09:00:00+08:00", "requester": ref("Practitioner/dr-1"),
                       "performer": [ref("Organization/cty01")], "encounter": ref("Encounter/th05-enc-1"),
                       "identifier": [{"system": "urn:th05:order", "value": "S1"}]},
    "Condition": {"code": cc("http://hl7.org/fhir/sid/icd-10", "E11.9"),
                  "category": [cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")],
                  "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
                  "verificationStatus": cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"),
                  "subject": SUBJECT, "onsetDateTime": "2020-05-01", "recordedDate": WHEN,
                  "encounter": ref("Encounter/th05-enc-1"), "asserter": ref("Practitioner/dr-1"),
                  "identifier": [{"system": "urn:th05:dx", "value": "C1"}]},
    "AllergyIntolerance": {"code": cc("http://www.whocc.no/atc", "J01CA04"), "criticality": "high", "category": ["medication"],
                           "type": "allergy", "patient": SUBJECT, "recordedDate": WHEN, "recorder": ref("Practitioner/dr-1"),
                           "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"),
                           "verificationStatus": cc("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed"),
                           "identifier": [{"system": "urn:th05:alg", "value": "A1"}]},
    "Task": {"status": "ready", "intent": "order", "priority": "asap", "code": cc("urn:hub:task", "follow-up"),
             "businessStatus": {"coding": [{"system": "urn:th05:state", "code": "waiting"}]}, "for": SUBJECT,
             "focus": ref("ServiceRequest/th05-sr-1"), "owner": ref("Practitioner/dr-2"), "requester": ref("Practitioner/dr-1"),
             "authoredOn": WHEN, "lastModified": "2026-11-21T09:00:00+08:00",
             "executionPeriod": {"start": WHEN, "end": "2026-11-21T10:00:00+08:00"},
             "performerType": [cc(SNOMED, "309294001")], "basedOn": [ref("ServiceRequest/th05-sr-1")],
             "identifier": [{"system": "urn:th05:task", "value": "T1"}]},
}

# Per type: parameter -> (a value the resource has, a value it has not).
QUERIES: dict[str, dict[str, tuple[str, str]]] = {
    # Encounter date: eq finds a period that lies within the value (2026-11), not one that only overlaps it.
    "Encounter": {"date": ("2026-11", "2026-11-21"), "class": (f"{ACT}|IMP", "AMB"), "type": ("183452005", "1"),
                  "participant": ("Practitioner/dr-1", "Practitioner/x"), "practitioner": ("dr-1", "dr-9"),
                  "service-provider": ("Organization/th05", "Organization/x"), "reason-code": ("I10", "E11"),
                  "location": ("Location/ward-3", "Location/x"), "code": ("I10", "Z99")},
    "Observation": {"code": (f"{LOINC}|2345-7", f"{LOINC}|1"), "category": ("laboratory", "vital-signs"),
                    "date": ("ge2026-11-20", "lt2026-11-19"), "encounter": ("Encounter/th05-enc-1", "x"),
                    "performer": ("Organization/th05", "Organization/x"), "based-on": ("ServiceRequest/th05-sr-1", "x"),
                    "derived-from": ("ImagingStudy/th05-img-1", "x")},
    "MedicationRequest": {"code": ("D0011", "D0012"), "authoredon": ("2026-11-20", "2026-11-21"),
                          "date": ("2026-11-21", "2026-11-20"), "intent": ("order", "plan"), "category": ("outpatient", "inpatient"),
                          "priority": ("urgent", "routine"), "requester": ("Practitioner/dr-1", "x"),
                          "encounter": ("th05-enc-1", "x")},
    "DiagnosticReport": {"code": ("24331-1", "1"), "category": ("LAB", "RAD"), "date": ("2026-11", "2026-10"),
                         "issued": ("gt2026-11-20T11:00:00+08:00", "lt2026-11-20T11:00:00+08:00"),
                         "encounter": ("th05-enc-1", "x"), "performer": ("th05", "x"), "result": ("Observation/th05-obs-1", "x"),
                         "based-on": ("th05-sr-1", "x"), "conclusion": (f"{SNOMED}|281900007", "1")},
    "ImagingStudy": {"started": ("2026-11-20", "2026-11-19"), "modality": ("ECG", "CT"), "basedon": ("th05-sr-1", "x"),
                     "encounter": ("th05-enc-1", "x"), "referrer": ("dr-1", "x"), "interpreter": ("dr-2", "x"),
                     "endpoint": ("Endpoint/pacs", "x")},
    "ServiceRequest": {"code": ("11524-6", "1"), "category": ("363679005", "1"), "authored": ("2026-11-20", "2026-11-21"),
                       "occurrence": ("2026-11-21", "2026-11-20"), "intent": ("order", "plan"), "priority": ("stat", "routine"),
                       "requester": ("dr-1", "x"), "performer": ("Organization/cty01", "x"), "encounter": ("th05-enc-1", "x")},
    "Condition": {"code": ("E11.9", "I10"), "category": ("problem-list-item", "encounter-diagnosis"),
                  "clinical-status": ("active", "resolved"), "verification-status": ("confirmed", "refuted"),
                  "onset-date": ("2020", "2021"), "recorded-date": ("2026-11-20", "2026-11-21"),
                  "encounter": ("th05-enc-1", "x"), "asserter": ("dr-1", "x")},
    "AllergyIntolerance": {"code": ("J01CA04", "J01CA01"), "clinical-status": ("active", "resolved"),
                           "verification-status": ("confirmed", "refuted"), "criticality": ("high", "low"),
                           "category": ("medication", "food"), "type": ("allergy", "intolerance"),
                           "date": ("2026-11-20", "2026-11-21"), "recorder": ("dr-1", "x")},
    "Task": {"code": ("follow-up", "ecg-read-x"), "business-status": ("waiting", "done"), "priority": ("asap", "routine"),
             "intent": ("order", "plan"), "authored-on": ("2026-11-20", "2026-11-21"), "modified": ("2026-11-21", "2026-11-20"),
             "period": ("2026-11", "2026-12"), "focus": ("th05-sr-1", "x"), "owner": ("dr-2", "dr-1"),
             "requester": ("dr-1", "dr-2"), "performer": ("309294001", "1"), "based-on": ("th05-sr-1", "x")},
}
COMMON_QUERIES = {"status": None, "identifier": None, "subject": ("Patient/th05-pat-1", "Patient/th05-pat-2"),
                  "patient": ("th05-pat-1", "th05-pat-2"), "_id": None, "_lastUpdated": ("gt2000-01-01", "lt2000-01-01"),
                  "_tag": ("urn:hub:tag|none", "urn:hub:tag|none"), "_profile": ("x", "x")}
PREFIX = {"Encounter": "enc", "Observation": "obs", "MedicationRequest": "rx", "DiagnosticReport": "dr",
          "ImagingStudy": "img", "ServiceRequest": "sr", "Condition": "dx", "AllergyIntolerance": "alg", "Task": "task"}


def _event(kind: str, resource: dict[str, Any]) -> Event:
    body = {"resourceType": kind, "id": f"th05-{PREFIX[kind]}-1", **resource}
    return Event(deterministic_event_id("th05", "test", kind, "0"), "encounter", Source("th05", "test", kind), BASE_TIME,
                 BASE_TIME, "th05/1", body)


def cases() -> list[tuple[str, str, str, str]]:
    out = []
    for kind, resource in RESOURCES.items():
        identifier = resource["identifier"][0]
        status = resource.get("status")
        common = {**COMMON_QUERIES, "identifier": (f"{identifier['system']}|{identifier['value']}", "urn:x|y"),
                  "_id": (f"th05-{PREFIX[kind]}-1", "th05-x"), "status": (status, "entered-in-error") if status else None}
        for name in params_of(kind):
            pair = QUERIES[kind].get(name) or common.get(name)
            if pair is not None and name not in ("_tag", "_profile"):
                out.append((kind, name, *pair))
    return out


def test_every_declared_parameter_has_a_case() -> None:
    covered = {(kind, name) for kind, name, _, _ in cases()}
    missing = [(kind, name) for kind in RESOURCES for name in params_of(kind)
               if (kind, name) not in covered and name not in ("_tag", "_profile")
               and not (name == "status" and "status" not in RESOURCES[kind])]
    assert missing == [] and set(RESOURCES) == set(PARAMETERS) - {"Patient"}


@pytest.fixture
def stored(community: Community, db: Database) -> Community:
    from tests.fhir_search.conftest import person

    store(db, [person("th05", "1", "周", "梅", "1970-01-01", "female"),
               *(_event(kind, resource) for kind, resource in RESOURCES.items())])
    return community


@pytest.mark.parametrize("kind, name, present, absent", cases())
def test_a_parameter_finds_what_has_the_value_and_not_what_lacks_it(stored: Community, kind: str, name: str,
                                                                    present: str, absent: str) -> None:
    rid = f"th05-{PREFIX[kind]}-1"
    hit = get(stored, f"/fhir/{kind}?_id={rid}&{name}={_quoted(present)}")
    miss = get(stored, f"/fhir/{kind}?_id={rid}&{name}={_quoted(absent)}")
    assert hit.status_code == 200 and miss.status_code == 200, (hit.text, miss.text)
    assert ids(hit.json()) == {rid}, f"{kind}?{name}={present} did not find it"
    assert ids(miss.json()) == set(), f"{kind}?{name}={absent} found it"


def _quoted(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="|/:")
