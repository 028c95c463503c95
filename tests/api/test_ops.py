"""Health, readiness, metrics, status and dead letters over HTTP."""

from __future__ import annotations

from consumers.dead_letters.consumer import DeadLetterStore
from hub.core.consumer import Delivery
from hub.core.dead_letter import DeadLetterInfo
from tests.api.conftest import Community, auth


def test_healthz_is_open(community: Community) -> None:
    assert community.client.get("/healthz").json() == {"status": "ok"}


def test_readyz_follows_consumers_and_broker(community: Community) -> None:
    assert community.client.get("/readyz").status_code == 200
    community.runtime.assigned = False
    response = community.client.get("/readyz")
    assert response.status_code == 503 and response.json()["failing"] == ["consumers"]
    community.runtime.assigned, community.runtime.broker = True, False
    assert community.client.get("/readyz").json()["failing"] == ["broker"]


def test_metrics_are_prometheus_text(community: Community) -> None:
    community.client.get("/healthz")
    response = community.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert "hub_http_requests_total" in response.text
    assert "# TYPE hub_consumer_lag gauge" in response.text


def test_status_and_dead_letters(community: Community) -> None:
    store_dead_letter(community, "<script>alert(1)</script> bad row", b'{"BRID": null}')
    headers = auth(community.tokens["admin"])
    status = community.client.get("/api/status", headers=headers).json()
    assert status["database_reachable"] is True
    assert {c["name"] for c in status["consumers"]} == {"record_store", "dead_letters", "referrals", "ecg"}
    assert status["connectors"][0]["backlog"] == 3
    assert status["dead_letters_total"] == 1
    letters = community.client.get("/api/dead-letters", headers=headers).json()
    assert letters[0]["reason"].startswith("<script>")
    one = community.client.get(f"/api/dead-letters/{letters[0]['id']}", headers=headers).json()
    assert one["payload"] == '{"BRID": null}'
    assert community.client.get("/api/dead-letters/nope", headers=headers).status_code == 404


def test_openapi_describes_the_api(community: Community) -> None:
    spec = community.client.get("/openapi.json").json()
    assert "/fhir/{resource_type}" in spec["paths"] and "/api/status" in spec["paths"]


def store_dead_letter(community: Community, reason: str, payload: bytes) -> None:
    headers = DeadLetterInfo(reason=reason, stage="map", origin="th01-his", event_id="dlq-test-1").to_headers()
    delivery = Delivery("hub.dead-letter.v1", 0, 0, b"th01/1", payload, tuple(headers), 0)
    with community.db.transaction() as session:
        DeadLetterStore().apply(session, delivery)
