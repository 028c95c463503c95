"""A FHIR client starts from the CapabilityStatement: it is generated from the routes, so it lists what is
served and nothing else, and a client that follows it (httpx, as the spec describes the REST API) can
search patients in characters and pinyin, follow paging and includes."""

from __future__ import annotations

import httpx
import pytest

from consumers.record_store.search.parameters import PARAMETERS, params_of
from hub.core.web.capability import declarations, statement
from tests.api.conftest import Community, auth


@pytest.fixture
def capability(people: Community) -> dict:
    response = people.client.get("/fhir/metadata")  # no token: clients read it before they log in
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/fhir+json")
    return response.json()


def test_every_served_type_with_its_interactions_and_parameters(capability: dict) -> None:
    statement = capability
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for kind in PARAMETERS:
        codes = {i["code"] for i in resources[kind]["interaction"]}
        assert {"read", "search-type"} <= codes, kind
        declared = {p["name"] for p in resources[kind]["searchParam"]}
        assert set(params_of(kind)) <= declared, kind
    patient = resources["Patient"]
    assert {o["name"] for o in patient["operation"]} >= {"everything", "match"}
    assert "create" in {i["code"] for i in patient["interaction"]}
    assert "Encounter:subject" in patient["searchRevInclude"] and "Patient:organization" in patient["searchInclude"]
    assert {i["code"] for i in statement["rest"][0]["interaction"]} >= {"batch", "transaction"}
    assert "DetectedIssue" in resources and "AuditEvent" in resources and "Communication" in resources


def test_nothing_is_declared_that_the_app_does_not_route(people: Community) -> None:
    """The statement is read from the routes: without the $everything route, no everything operation."""
    from fastapi.routing import APIRoute

    from hub.core.web.fall_through import every_route

    routes = [r for r in every_route(people.client.app.router.routes) if isinstance(r, APIRoute)]
    kept = [r for r in routes if r.path != "/fhir/Patient/{patient_id}/$everything"]
    assert len(declarations(kept)) == len(declarations(routes)) - 1
    body = statement(kept, "http://hub", "county-hub", "test", "2026-11-28")
    patient = next(r for r in body["rest"][0]["resource"] if r["type"] == "Patient")
    assert {o["name"] for o in patient["operation"]} == {"match", "export"}


def test_every_fhir_route_declares_what_it_serves(people: Community) -> None:
    from fastapi.routing import APIRoute

    from hub.core.web.fall_through import every_route

    undeclared = [f"{sorted(r.methods)} {r.path}" for r in every_route(people.client.app.router.routes)
                  if isinstance(r, APIRoute) and r.path.startswith("/fhir/") and r.path != "/fhir/metadata"
                  and "$export-" not in r.path  # the status and file URLs of the export operation's protocol
                  and not (r.openapi_extra or {}).get("x-fhir")]
    assert undeclared == []


def test_a_client_following_the_statement(people: Community, served: str) -> None:
    headers = {**auth(people.tokens["clinician"]), "Accept": "application/fhir+json"}
    with httpx.Client(base_url=f"{served}/fhir", headers=headers, timeout=10) as client:
        capability = client.get("/metadata").json()
        patient = next(r for r in capability["rest"][0]["resource"] if r["type"] == "Patient")
        assert {"name", "birthdate"} <= {p["name"] for p in patient["searchParam"]}
        found: list[str] = []
        url: str | None = "/Patient?name=wxy&_count=2&_sort=_id"
        while url:
            bundle = client.get(url).json()
            found += [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
            url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
            if url:
                url = url.split("/fhir", 1)[1]
        assert len(found) == len(set(found)) and {"th03-pat-11", "th04-pat-21"} <= set(found)
        characters = client.get("/Patient", params={"name": "王秀英", "_include": "Patient:link",
                                                    "_tag:not": "urn:hub:tag|golden"}).json()
        assert "th03-pat-11" in {e["resource"]["id"] for e in characters["entry"]}
        included = {e["resource"]["id"] for e in characters["entry"] if e["search"]["mode"] == "include"}
        assert any(i.startswith("cp-") for i in included)  # each member record's community patient
        assert "vread" in {i["code"] for i in patient["interaction"]}
        history = client.get("/Patient/th03-pat-11/_history").json()
        assert history["type"] == "history" and history["entry"][0]["resource"]["id"] == "th03-pat-11"
        version = history["entry"][0]["resource"]["meta"]["versionId"]
        assert client.get(f"/Patient/th03-pat-11/_history/{version}").status_code == 200
