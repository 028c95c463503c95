"""The audit log exports as FHIR R4 AuditEvent: valid resources, searched by patient, date and agent."""

from __future__ import annotations

import base64

from hub.core.fhir import validate_resource
from tests.api.conftest import Community, auth


def _read_some(community: Community) -> None:
    reader, clinician = auth(community.tokens["reader"]), auth(community.tokens["clinician"])
    community.client.get("/fhir/Patient/th01-pat-1", headers=reader)
    community.client.get("/fhir/Observation?code=http://loinc.org|2345-7", headers=reader)
    community.client.get("/fhir/Patient/th02-pat-9", headers=clinician)
    community.client.get("/fhir/Patient/th02-pat-9", headers=auth(community.tokens["connector_th01"]))  # 403


def test_audit_events_are_valid_and_say_who_what_when_where(community: Community) -> None:
    _read_some(community)
    bundle = community.client.get("/fhir/AuditEvent", headers=auth(community.tokens["admin"])).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset" and bundle["total"] == 4
    events = [entry["resource"] for entry in bundle["entry"]]
    for event in events:
        validate_resource(event)  # R4B's AuditEvent model
    newest_first = [e["agent"][0]["who"]["display"] for e in events]
    assert newest_first == ["th01-his", "dr-li", "reader-zhang", "reader-zhang"]
    denied, _, search, read = events
    assert denied["outcome"] == "4" and denied["outcomeDesc"] == "HTTP 403"
    assert read["action"] == "R" and read["outcome"] == "0"
    assert {"system": "http://hl7.org/fhir/restful-interaction", "code": "read"} in read["subtype"]
    assert read["agent"][0]["network"] == {"address": "testclient", "type": "2"}
    assert read["agent"][0]["role"][0]["coding"][0]["code"] == "reader"
    assert read["agent"][0]["extension"] == [{"url": "urn:hub:facility", "valueString": "cty01"}]
    patients = [e["what"]["reference"] for e in read["entity"] if "what" in e]
    assert patients == ["Patient/th01-pat-1"]
    one = community.client.get(f"/fhir/AuditEvent/{read['id']}", headers=auth(community.tokens["admin"]))
    assert one.json() == read
    assert community.client.get("/fhir/AuditEvent/nope", headers=auth(community.tokens["admin"])).status_code == 404
    query = next(e for e in search["entity"] if "query" in e)
    assert base64.b64decode(query["query"]).decode() == "code=http://loinc.org|2345-7"
    assert query["description"] == "GET /fhir/Observation"


def test_search_by_patient_date_and_agent_admins_only(community: Community) -> None:
    _read_some(community)
    admin = auth(community.tokens["admin"])

    def total(query: str) -> int:
        response = community.client.get(f"/fhir/AuditEvent?{query}", headers=admin)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    # Searching by the community patient finds reads of any of the person's records (and of the
    # searches above, each one is itself audited).
    assert total(f"patient={community.golden}") == 2
    assert total("patient=Patient/th01-pat-1") == 3
    assert total("patient=th02-pat-9") == 1  # the refused read returned nothing
    assert total("agent=reader-zhang") == 2
    assert total("date=ge2020-01-01&date=lt2099-01-01") >= 4
    assert total("date=lt2020-01-01") == 0
    assert community.client.get("/fhir/AuditEvent?date=yesterday", headers=admin).status_code == 400
    assert community.client.get("/fhir/AuditEvent?who=x", headers=admin).status_code == 400
    refused = community.client.get("/fhir/AuditEvent", headers=auth(community.tokens["clinician"]))
    assert refused.status_code == 403 and refused.json()["resourceType"] == "OperationOutcome"
