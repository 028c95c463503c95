"""GET /api/patients/{id}/recognised-results over the community fixture: roles, answers, errors, audit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consumers.record_store.recognition import RecognitionRulesError
from hub.app.api.app import create_app
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import AuditLog
from hub.core.web.auth import issue_token
from tests.api.conftest import Community, auth
from tests.consumers.test_recognition import AT, result_event, store

# The fixture's th01 glucose report and observation are dated 2026-11-20 09:00 China time (01:00 UTC).
AT_PARAM = {"at": "2026-11-23T12:00:00+08:00"}


def url(patient: str) -> str:
    return f"/api/patients/{patient}/recognised-results"


def test_a_clinician_sees_the_township_glucose_recognised(community: Community) -> None:
    response = community.client.get(
        url(community.golden), params=AT_PARAM, headers=auth(community.tokens["clinician"])
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["patient"], body["requesting_facility"], body["total"], body["recognised"]) == (
        community.golden,
        "cty01",
        2,
        2,
    )  # the token's facility asks by default
    assert body["at"] == AT.isoformat()
    observation = next(r for r in body["results"] if r["resource_type"] == "Observation")
    assert observation == {
        "resource_type": "Observation",
        "id": "th01-obs-1",
        "code": "http://loinc.org|2345-7",
        "display": "葡萄糖",
        "value": 7.2,
        "unit": "mmol/L",
        "date": "2026-11-20T01:00:00+00:00",
        "facility_id": "th01",
        "status": "final",
        "valid_until": "2026-11-27T01:00:00+00:00",
        "recognised": True,
        "reason": None,
    }


def test_the_requesting_facilitys_own_results_are_not_listed(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    body = community.client.get(
        url(community.golden), params={**AT_PARAM, "facility": "th01"}, headers=headers
    ).json()
    assert body["requesting_facility"] == "th01" and body["results"] == []


def test_after_the_window_nothing_is_listed_and_at_defaults_to_now(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    late = community.client.get(
        url(community.golden), params={"at": "2026-11-27T09:00:01+08:00"}, headers=headers
    )
    assert late.json()["results"] == []
    assert community.client.get(url(community.golden), headers=headers).status_code == 200


def test_a_source_id_gives_the_same_answer_as_the_golden_id(community: Community) -> None:
    headers = auth(community.tokens["reader"])
    answers = [
        community.client.get(url(p), params=AT_PARAM, headers=headers).json()
        for p in (community.golden, "th01-pat-1", "cty01-pat-A77")
    ]
    assert answers[0] == answers[1] == answers[2]


def test_unlisted_laboratories_and_unfinished_results_carry_their_reason(community: Community) -> None:
    store(community.db, [result_event("th02", "9", AT - timedelta(days=1))])  # another person: not shown
    store(
        community.db,
        [
            result_event(
                "th01",
                "1",
                AT - timedelta(hours=1),
                rtype="DiagnosticReport",
                code=("http://loinc.org", "58410-2"),
                display="血常规",
                status="preliminary",
            )
        ],
    )
    headers = auth(community.tokens["clinician"])
    body = community.client.get(url("th01-pat-1"), params=AT_PARAM, headers=headers).json()
    assert (body["total"], body["recognised"]) == (3, 2)
    newest = body["results"][0]
    assert (newest["display"], newest["recognised"], newest["reason"]) == (
        "血常规",
        False,
        "result not final (status preliminary)",
    )


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("clinician", 200),
        ("reader", 200),
        ("admin", 200),
        ("connector_th01", 403),
        ("pharmacist", 403),
        (None, 401),
    ],
)
def test_roles(community: Community, role: str | None, status: int) -> None:
    if role == "pharmacist":
        with community.db.transaction() as session:
            community.tokens[role] = issue_token(session, "pharmacy", "pharmacist", "cty01")
    headers = auth(community.tokens[role]) if role else {}
    params = {**AT_PARAM, "facility": "cty01"}  # the admin token belongs to no facility
    response = community.client.get(url(community.golden), params=params, headers=headers)
    assert response.status_code == status
    if status != 200:
        assert response.json()["resourceType"] == "OperationOutcome"


def test_unknown_patient_is_404(community: Community) -> None:
    response = community.client.get(url("th09-pat-404"), headers=auth(community.tokens["clinician"]))
    assert response.status_code == 404
    assert response.json()["issue"][0]["diagnostics"] == "Patient/th09-pat-404 is not known"


@pytest.mark.parametrize(
    ("params", "token", "expected"),
    [
        ({"at": "yesterday"}, "clinician", "at: 'yesterday' is not an ISO date-time"),
        ({"at": "2026-13-40T00:00:00"}, "clinician", "is not an ISO date-time"),
        ({"facility": "cty 01"}, "clinician", "facility: 'cty 01' is not a facility id"),
        ({"facility": "<script>"}, "clinician", "is not a facility id"),
        ({}, "admin", "facility: name the requesting member"),
    ],
)
def test_bad_parameters_are_400(
    community: Community, params: dict[str, str], token: str, expected: str
) -> None:
    response = community.client.get(
        url(community.golden), params=params, headers=auth(community.tokens[token])
    )
    assert response.status_code == 400
    assert expected in response.json()["issue"][0]["diagnostics"]


def test_an_unencoded_plus_in_at_is_read_as_the_offset(community: Community) -> None:
    response = community.client.get(
        url(community.golden) + "?at=2026-11-23T12:00:00+08:00", headers=auth(community.tokens["clinician"])
    )
    assert response.status_code == 200 and response.json()["at"] == AT.isoformat()


def test_every_call_is_audited(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    assert community.client.get(url("th01-pat-1"), params=AT_PARAM, headers=headers).status_code == 200
    community.client.get(url("th09-pat-404"), headers=headers)  # nothing was read, but it was tried
    with community.db.sessions() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "recognised")).all()
    assert [(r.actor, r.role, r.facility_id, r.patient_id, r.status) for r in rows] == [
        ("dr-li", "clinician", "cty01", "th01-pat-1", 200), ("dr-li", "clinician", "cty01", "th09-pat-404", 404),
    ]  # the unknown patient's attempt is kept too, with its outcome


def test_rules_come_from_the_setting_and_are_loaded_once(
    community: Community, settings: HubSettings, db: Database, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "facilities: [cty01]\ntests:\n  - {code: 'http://loinc.org|2345-7', days: 7}\n", encoding="utf-8"
    )
    app = create_app(settings.model_copy(update={"recognition_rules": rules}), db)
    rules.write_text("not: [valid", encoding="utf-8")  # read at start only
    with TestClient(app) as client:
        body = client.get(
            url(community.golden), params=AT_PARAM, headers=auth(community.tokens["clinician"])
        ).json()
    assert {r["reason"] for r in body["results"]} == {"laboratory not on the community list"}
    with pytest.raises(RecognitionRulesError, match=f"recognition rules {rules}: line 1: not valid YAML"):
        create_app(settings.model_copy(update={"recognition_rules": rules}), db)
