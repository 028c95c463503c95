"""What the HTTP doors refuse before anything else: deep JSON, non-JSON media types, unknown
facilities named by an admin; and links that never echo the request's Host header."""

from __future__ import annotations

import json

from tests.api.conftest import Community, auth
from tests.api.test_fhir_ingest import PATIENT, events_in, ingest  # noqa: F401 - the fixture

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _issue(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("application/fhir+json"), response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def test_json_nested_5000_levels_is_a_clear_400(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    deep = '{"resourceType": "Patient", "extension": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.post("/fhir/Patient", content=deep.encode(),
                           headers={**auth(community.tokens["connector_th01"]), **FHIR_JSON})
    assert response.status_code == 400
    issue = _issue(response)
    assert issue["code"] == "structure" and "nested more than" in issue["diagnostics"]
    assert outbox.count() == 0


def test_300_nested_extensions_are_a_clear_400(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    extension: dict = {"url": "urn:x", "valueString": "leaf"}
    for _ in range(300):
        extension = {"url": "urn:x", "extension": [extension]}
    body = {**PATIENT, "extension": [extension]}
    response = client.post("/fhir/Patient", content=json.dumps(body).encode(),
                           headers={**auth(community.tokens["connector_th01"]), **FHIR_JSON})
    assert response.status_code == 400 and "nested more than" in _issue(response)["diagnostics"]
    assert outbox.count() == 0


def test_deep_json_on_a_json_api_route_is_an_operation_outcome(community: Community) -> None:
    deep = '{"patient_key": ' + "[" * 5000 + "]" * 5000 + "}"
    response = community.client.post("/api/mpi/unlink", content=deep.encode(),
                                     headers={**auth(community.tokens["admin"]), "Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_only_fhir_json_media_types_are_accepted(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    data = json.dumps(PATIENT).encode()
    for refused in ("text/plain", "application/xml", "application/fhir+json; charset=gbk", None):
        extra = {"Content-Type": refused} if refused else {}
        response = client.post("/fhir/Patient", content=data, headers={**headers, **extra})
        assert response.status_code == 415, (refused, response.text)
        assert _issue(response)["code"] == "not-supported"
    assert outbox.count() == 0
    for accepted in ("application/fhir+json", "application/json", "application/fhir+json; charset=UTF-8",
                     "Application/JSON;charset=utf-8"):
        response = client.post("/fhir/Patient", content=data, headers={**headers, "Content-Type": accepted})
        assert response.status_code in (200, 201), (accepted, response.text)
    assert len(events_in(outbox)) == 1


def test_bundle_links_never_echo_the_host_header(community: Community) -> None:
    headers = {**auth(community.tokens["clinician"]), "Host": "evil.example:666"}
    for path in ("/fhir/Encounter?_count=1", f"/fhir/Patient/{community.golden}/$everything?_count=1"):
        body = community.client.get(path, headers=headers).json()
        assert body["resourceType"] == "Bundle", body
        text = json.dumps(body)
        assert "evil.example" not in text
        assert body["link"][0]["url"].startswith(community.client.app.state.settings.public_base + "/fhir/")


def test_bundle_links_use_the_configured_public_base(community: Community) -> None:
    app = community.client.app
    app.state.settings = app.state.settings.model_copy(update={"public_base_url": "https://hub.county.example/"})
    body = community.client.get("/fhir/Encounter?_count=1", headers=auth(community.tokens["clinician"])).json()
    assert body["link"][0]["url"].startswith("https://hub.county.example/fhir/Encounter?")
    assert all(e["fullUrl"].startswith("https://hub.county.example/fhir/") for e in body["entry"])


def test_an_admin_may_name_only_a_known_facility(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    admin = auth(community.tokens["admin"])
    for bad in ("../../evil fac", "th99", "", "a" * 40):
        response = client.post("/fhir/Patient", json=PATIENT, headers={**admin, "X-Hub-Facility": bad})
        assert response.status_code == 400, (bad, response.text)
    assert outbox.count() == 0
    known = client.post("/fhir/Patient", json=PATIENT, headers={**admin, "X-Hub-Facility": "th01"})
    assert known.status_code == 201, known.text
    assert events_in(outbox)[0].source.facility_id == "th01"
