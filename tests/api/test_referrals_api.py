"""The referral API: who may read it, filters, monthly counts in China months, ids only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consumers.referrals.consumer import ReferralConsumer
from hub.core.db.models import AuditLog
from tests.api.conftest import Community, auth
from tests.consumers.referral_factories import arrival_event, deliveries, referral_event, task_event


def load_referrals(community: Community) -> None:
    events = [
        # th01 sends three patients up in November (China time); one comes back down.
        referral_event("sr-1", authored="2026-11-02T09:00:00+08:00"),
        task_event("sr-1", "accepted"),
        arrival_event("sr-1"),
        referral_event("sr-2", authored="2026-11-10T09:00:00+08:00", local_id="2"),
        task_event("sr-2", "rejected"),
        # 2026-11-01 02:00 in China is still October in UTC: it counts for November.
        referral_event("sr-3", authored="2026-11-01T02:00:00+08:00", local_id="3"),
        referral_event(
            "sr-4",
            facility="cty01",
            target="th01",
            based_on="sr-1",
            local_id="A77",
            authored="2026-11-20T09:00:00+08:00",
        ),
        # vc03 sends one up to its township centre in October.
        referral_event(
            "sr-5", facility="vc03", target="th01", authored="2026-10-15T09:00:00+08:00", local_id="9"
        ),
    ]
    with community.db.transaction() as session:
        ReferralConsumer(levels={}).apply_batch(session, deliveries(events))


@pytest.fixture
def loaded(community: Community) -> Community:
    load_referrals(community)
    return community


def test_roles(loaded: Community) -> None:
    client = loaded.client
    assert client.get("/api/referrals").status_code == 401
    assert client.get("/api/referrals", headers=auth("nope")).status_code == 401
    for role in ("reader", "connector_th01"):
        response = client.get("/api/referrals", headers=auth(loaded.tokens[role]))
        assert response.status_code == 403 and response.json()["resourceType"] == "OperationOutcome"
        assert client.get("/api/referrals/summary", headers=auth(loaded.tokens[role])).status_code == 403
    for role in ("clinician", "admin"):
        assert client.get("/api/referrals", headers=auth(loaded.tokens[role])).status_code == 200


def test_open_loops_and_filters(loaded: Community) -> None:
    headers = auth(loaded.tokens["clinician"])
    body = loaded.client.get("/api/referrals?state=open", headers=headers).json()
    states = {item["id"]: item["state"] for item in body["items"]}
    assert states == {"sr-3": "requested", "sr-4": "requested", "sr-5": "requested"}
    assert body["total"] == 3
    assert [i["id"] for i in body["items"]] == ["sr-5", "sr-3", "sr-4"]  # longest waiting first
    every = loaded.client.get("/api/referrals", headers=headers).json()
    assert {i["id"]: i["state"] for i in every["items"]}["sr-1"] == "returned"
    assert {i["id"]: i["state"] for i in every["items"]}["sr-2"] == "rejected"
    one = next(i for i in every["items"] if i["id"] == "sr-1")
    assert one["age_days"] >= 0 and one["arrival_encounter_id"] == "cty01-enc-sr-1"
    down = loaded.client.get("/api/referrals?direction=down", headers=headers).json()
    assert [i["id"] for i in down["items"]] == ["sr-4"]
    vc03 = loaded.client.get("/api/referrals?facility=vc03", headers=headers).json()
    assert [i["id"] for i in vc03["items"]] == ["sr-5"]
    th01 = loaded.client.get("/api/referrals?facility=th01&state=rejected", headers=headers).json()
    assert [i["id"] for i in th01["items"]] == ["sr-2"]
    page = loaded.client.get("/api/referrals?limit=2&offset=4", headers=headers).json()
    assert (page["total"], len(page["items"])) == (5, 1)


def test_ids_only_and_audited(loaded: Community) -> None:
    response = loaded.client.get("/api/referrals", headers=auth(loaded.tokens["clinician"]))
    text = response.text
    assert "th01-pat-1" in text
    assert "王秀英" not in text and "1381234" not in text and "110101" not in text
    with loaded.db.sessions() as session:
        actions = list(session.scalars(select(AuditLog.action).where(AuditLog.path == "/api/referrals")))
    assert actions == ["referrals"]


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("state=lost", "state"),
        ("direction=left", "direction"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
        ("limit=ten", None),
    ],
)
def test_bad_parameters_are_named(loaded: Community, query: str, parameter: str | None) -> None:
    response = loaded.client.get(f"/api/referrals?{query}", headers=auth(loaded.tokens["clinician"]))
    assert response.status_code == 400
    if parameter:
        assert response.json()["issue"][0]["expression"] == [parameter]


def test_summary_counts_china_months(loaded: Community) -> None:
    headers = auth(loaded.tokens["admin"])
    body = loaded.client.get("/api/referrals/summary?from=2026-10&to=2026-11", headers=headers).json()
    assert (body["from"], body["to"]) == ("2026-10", "2026-11")
    rows = {(r["month"], r["facility"]): r for r in body["rows"]}
    assert rows[("2026-11", "th01")] == {
        "month": "2026-11",
        "facility": "th01",
        "up": 3,
        "down": 0,
        "unknown": 0,
        "open": 1,
    }
    assert rows[("2026-11", "cty01")]["down"] == 1 and rows[("2026-11", "cty01")]["open"] == 1
    assert rows[("2026-10", "vc03")]["up"] == 1
    assert list(rows) == sorted(rows)
    november = loaded.client.get("/api/referrals/summary?from=2026-11&to=2026-11", headers=headers).json()
    assert {r["facility"] for r in november["rows"]} == {"th01", "cty01"}


def test_summary_defaults_to_twelve_months(loaded: Community) -> None:
    body = loaded.client.get(
        "/api/referrals/summary?to=2026-11", headers=auth(loaded.tokens["clinician"])
    ).json()
    assert (body["from"], body["to"]) == ("2025-12", "2026-11")
    assert len(body["rows"]) == 3


@pytest.mark.parametrize(
    "query, parameter",
    [("from=2026-13", "from"), ("to=11-2026", "to"), ("from=2026-11&to=2026-10", "from")],
)
def test_summary_bad_months(loaded: Community, query: str, parameter: str) -> None:
    response = loaded.client.get(f"/api/referrals/summary?{query}", headers=auth(loaded.tokens["clinician"]))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [parameter]


def test_page_is_served(community: Community) -> None:
    response = community.client.get("/referrals")
    assert response.status_code == 200 and "双向转诊" in response.text
    assert "/static/common.js" in response.text  # the shared token handling (sessionStorage)
    assert "sessionStorage" in community.client.get("/static/common.js").text
