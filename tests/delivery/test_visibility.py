"""What operators see: /api/delivery per destination (and a member's own token its own), the refused
messages with their reasons, sending one again, the status section and `hub status`, the metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from pydantic import SecretStr

from consumers.delivery import queue
from consumers.delivery.models import ACKNOWLEDGED, QUEUED, REFUSED
from consumers.delivery.queries import summaries
from hub.app.api.app import create_app
from hub.app.status import collect_status, format_status
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.web.auth import issue_token
from tests.delivery.factories import report_event
from tests.delivery.harness import fhir, member_config, messages, mllp, queue_results, route_of, sending
from tests.delivery.members import MllpMember, field_of
from tests.waiting import wait_for

ADMIN = "delivery-admin-token"


def world(db: Database, settings: HubSettings) -> MllpMember:
    """th01 refuses its first report and takes the second; th02's FHIR endpoint is down."""
    member = MllpMember(answer=lambda m: ("AR", "未知检查项目") if field_of(m, "OBR", 3) == "R00001" else ("AA", ""))
    member.start()
    township = member_config("th01", mllp(member.port))
    down = member_config("th02", fhir("http://127.0.0.1:9/fhir"))
    queue_results(db, settings, township, report_event("th01", "1", 1), report_event("th01", "1", 2))
    queue_results(db, settings, down, report_event("th02", "9", 1))
    with sending(db, route_of(township)):
        wait_for(lambda: [m.state for m in messages(db, "th01/mllp")] == [REFUSED, ACKNOWLEDGED])
    with sending(db, route_of(down)):
        wait_for(lambda: _failing(db, "th02/fhir"))
    return member


def _failing(db: Database, key: str) -> bool:
    with db.reading() as session:
        return any(s.destination == key and s.failing_since for s in summaries(session))


def client_for(db: Database, settings: HubSettings) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"admin_token": SecretStr(ADMIN)}), db))


def test_api_per_destination_for_operators_and_for_the_member_itself(db: Database, settings: HubSettings) -> None:
    member = world(db, settings)
    try:
        client = client_for(db, settings)
        with db.transaction() as session:
            th01 = issue_token(session, "th01-his", "connector", "th01")
            reader = issue_token(session, "reader", "reader", "cty01")
        answer = client.get("/api/delivery", headers={"Authorization": f"Bearer {ADMIN}"})
        assert answer.status_code == 200
        found = {d["destination"]: d for d in answer.json()["destinations"]}
        assert set(found) == {"th01/mllp", "th02/fhir"}
        mllp_state, fhir_state = found["th01/mllp"], found["th02/fhir"]
        assert (mllp_state["queued"], mllp_state["sent"], mllp_state["acknowledged"], mllp_state["refused"],
                mllp_state["failing"]) == (0, 2, 1, 1, False)
        assert mllp_state["address"] == f"127.0.0.1:{member.port}"
        assert fhir_state["queued"] == 1 and fhir_state["failing"] is True
        assert fhir_state["failing_since"] and "cannot connect" in fhir_state["last_error"]
        own = client.get("/api/delivery", headers={"Authorization": f"Bearer {th01}"}).json()["destinations"]
        assert [d["destination"] for d in own] == ["th01/mllp"]
        other = client.get("/api/delivery?facility=th02", headers={"Authorization": f"Bearer {th01}"})
        assert other.status_code == 403 and "its own" in other.text
        assert client.get("/api/delivery", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
        assert client.get("/api/delivery").status_code == 401
    finally:
        member.stop()


def test_refused_messages_with_reasons_and_sending_one_again(db: Database, settings: HubSettings) -> None:
    member = world(db, settings)
    try:
        client = client_for(db, settings)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        [refused] = client.get("/api/delivery/refused", headers=admin).json()
        assert (refused["destination"], refused["reason"], refused["patient_key"]) == ("th01/mllp", "AR: 未知检查项目",
                                                                                     "th01/1")
        assert client.post("/api/delivery/refused/999/retry", headers=admin).status_code == 404
        member.answer = lambda _m: ("AA", "")  # the township added the test to its catalogue
        assert client.post(f"/api/delivery/refused/{refused['id']}/retry", headers=admin).json() == {
            "requeued": refused["id"]}
        assert [m.state for m in messages(db, "th01/mllp")] == [QUEUED, ACKNOWLEDGED]
        with sending(db, route_of(member_config("th01", mllp(member.port)))):
            wait_for(lambda: all(m.state == ACKNOWLEDGED for m in messages(db, "th01/mllp")))
        assert member.control_ids().count(refused["message_id"]) == 2
        assert queue.requeue(db) == 0  # nothing named: nothing requeued
    finally:
        member.stop()


def test_status_section_and_metrics(db: Database, settings: HubSettings) -> None:
    member = world(db, settings)
    try:
        report = collect_status(settings, db, None)
        section = report.parts["delivery"]
        rows = {row[0]: row for row in section.rows}
        assert rows["th01/mllp"][1:6] == ("mllp", 0, 2, 1, 1)
        assert rows["th02/fhir"][2] == 1 and rows["th02/fhir"][6]  # queued, failing since
        assert len(section.flagged) == 2  # a refusal kept, and a destination failing
        text = format_status(report)
        assert "Delivery to members" in text and "th02/fhir" in text and "hub delivery retry" in text
        metrics = generate_latest().decode()
        assert 'hub_delivery_refused_total{destination="th01/mllp"}' in metrics
        assert 'hub_delivery_acknowledged_total{destination="th01/mllp"}' in metrics
        assert 'hub_delivery_destination_up{destination="th02/fhir"} 0.0' in metrics
        assert 'hub_delivery_queued{destination="th02/fhir"} 1.0' in metrics
    finally:
        member.stop()
