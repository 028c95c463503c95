"""Acknowledging a critical value over HTTP: the member it belongs to may (200), another member may not
(403), a second acknowledgement is refused with who did it (409); every step is in the audit log."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from consumers.critical_values.escalation import Escalator
from hub.core.db.models import AuditLog
from hub.core.events import utcnow
from hub.core.web.auth import issue_token
from tests.api.conftest import Community, auth
from tests.critical_values.factories import Clock, apply, bound_consumer, lab_event, potassium

ACK = {"name": "李娜", "role": "护士", "action": "已报告值班医师王强，停用补钾，复查血钾"}


@dataclass
class Ward:
    community: Community
    notice: str
    tokens: dict[str, str]
    clock: Clock


@pytest.fixture
def ward(community: Community) -> Ward:
    settings = community.client.app.state.settings
    clock = Clock(utcnow())
    consumer = bound_consumer(settings, community.db, clock)
    apply(consumer, community.db, lab_event([potassium(7.2)]))
    with community.db.transaction() as session:
        tokens = {"th01": issue_token(session, "nurse-li", "clinician", "th01"),
                  "th02": issue_token(session, "nurse-zhao", "clinician", "th02"),
                  "county": community.tokens["clinician"], "th01_his": community.tokens["connector_th01"],
                  "reader": community.tokens["reader"], "admin": community.tokens["admin"]}
    listed = community.client.get("/api/critical-values", headers=auth(tokens["th01"])).json()
    return Ward(community, listed["items"][0]["id"], tokens, clock)


def _get(ward: Ward, who: str, path: str = "/api/critical-values", **params: str):  # noqa: ANN202
    return ward.community.client.get(path, params=params, headers=auth(ward.tokens[who]))


def _ack(ward: Ward, who: str, body: dict | None = None):  # noqa: ANN202
    return ward.community.client.post(f"/api/critical-values/{ward.notice}/acknowledge", json=body or ACK,
                                      headers=auth(ward.tokens[who]))


def test_a_member_sees_its_own_open_notices_with_their_clocks(ward: Ward) -> None:
    mine = _get(ward, "th01").json()
    assert mine["total"] == 1 and mine["county"] is False and mine["facility"] == "th01"
    (item,) = mine["items"]
    assert item["patient_id"] == "th01-pat-1" and item["level"] == 0 and item["status"] == "open"
    assert 590 <= item["seconds_left"] <= 600 and item["summary"].startswith("血钾 7.2 mmol/L")
    assert [d["name"] for d in mine["duty_doctors"]][0] == "县医院医务科总值班"
    assert _get(ward, "th02").json()["total"] == 0  # another member sees none of it
    county = _get(ward, "county").json()
    assert county["county"] is True and county["total"] == 1  # the county hospital's staff see every member's
    refused = _get(ward, "th02", f"/api/critical-values/{ward.notice}")
    assert refused.status_code == 403
    assert "belongs to member th01; a credential of th02 may not see" in refused.json()["issue"][0]["diagnostics"]
    assert _get(ward, "th02", facility="th01").status_code == 403
    assert _get(ward, "reader").status_code == 403  # readers have no notices to acknowledge
    assert _get(ward, "th01", status="finished").status_code == 400
    assert _get(ward, "th01", "/api/critical-values/cv-unknown").status_code == 404


def test_acknowledged_by_the_member_once(ward: Ward) -> None:
    refused = _ack(ward, "th02")
    assert refused.status_code == 403 and "belongs to member th01" in refused.json()["issue"][0]["diagnostics"]
    county = _ack(ward, "county")  # the county hospital does not take a member's notice before level 2
    assert county.status_code == 403 and "only once the county duty doctors were called" in county.text
    missing = _ack(ward, "th01", {"name": "李娜", "role": "护士"})  # no action taken
    assert missing.status_code == 400 and "action" in missing.text
    assert _ack(ward, "th01", {**ACK, "name": "   "}).status_code == 400

    ward.clock.advance(200)
    done = _ack(ward, "th01_his")  # the member's own system (its connector token) acknowledges it
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "acknowledged" and body["seconds_left"] is None
    assert body["acknowledgement"]["name"] == "李娜" and body["acknowledgement"]["credential"] == "th01-his"
    again = _ack(ward, "th01")
    assert again.status_code == 409
    assert "already acknowledged by 李娜 (护士)" in again.json()["issue"][0]["diagnostics"]
    assert _get(ward, "th01").json()["total"] == 0
    assert _get(ward, "th01", status="acknowledged").json()["items"][0]["acknowledgement"]["action"] == ACK["action"]

    with ward.community.db.sessions() as session:
        steps = [(a.action, a.actor, a.role, a.facility_id, a.query) for a in
                 session.scalars(select(AuditLog).where(AuditLog.action.like("critical_%")).order_by(AuditLog.id))]
    assert [s[0] for s in steps] == ["critical_raised", "critical_queued", "critical_acknowledged"]
    assert steps[2][1:4] == ("th01-his", "connector", "th01") and "acknowledged by 李娜 (护士)" in (steps[2][4] or "")
    # The HTTP calls are audited by the hook as well, refused ones included, and all export as AuditEvents.
    exported = _get(ward, "admin", "/fhir/AuditEvent", patient="th01-pat-1", _count="100").json()
    codes = [c["code"] for e in exported["entry"] for c in e["resource"]["subtype"]]
    assert {"critical_raised", "critical_queued", "critical_acknowledged", "acknowledge_notice"} <= set(codes)
    (acknowledged,) = [e["resource"] for e in exported["entry"]
                       if e["resource"]["subtype"][0]["code"] == "critical_acknowledged"]
    (what,) = [x for x in acknowledged["entity"] if "description" in x]
    assert what["what"] == {"reference": f"Communication/{ward.notice}"} and "by 李娜 (护士)" in what["description"]
    assert acknowledged["agent"][0]["who"]["display"] == "th01-his"
    metrics = ward.community.client.get("/metrics").text
    assert 'hub_critical_notices_acknowledged_total{level="0"}' in metrics


def test_county_staff_may_take_a_notice_once_the_duty_doctors_were_called(ward: Ward) -> None:
    desk = ward.community.client.app.state.critical_desk
    escalator = Escalator(ward.community.db, desk, ward.clock)
    ward.clock.advance(600)
    escalator.run_once()
    ward.clock.advance(600)
    assert escalator.run_once() == [(ward.notice, 2)]
    listed = _get(ward, "county").json()["items"][0]
    assert listed["level"] == 2 and listed["escalated_to"][0]["name"] == "县医院医务科总值班"
    assert listed["due_at"] == listed["level2_at"]  # the last deadline, passed: the page counts it as overdue
    done = _ack(ward, "county", {"name": "王强", "role": "总值班", "action": "电话联系th01值班医师，已处理"})
    assert done.status_code == 200 and done.json()["acknowledgement"]["credential"] == "dr-li"


def _reply(ward: Ward, **changes: object) -> dict:
    reply = {"resourceType": "Communication", "status": "completed",
             "inResponseTo": [{"reference": f"Communication/{ward.notice}"}], "sender": {"display": "李娜"},
             "extension": [{"url": "urn:hub:notice:acknowledger-role", "valueString": "护士"}],
             "payload": [{"contentString": "已报告值班医师"}], "sent": "2026-11-23T10:00:00+08:00"}
    reply.update(changes)
    return reply


def test_a_member_system_may_answer_with_a_fhir_communication(ward: Ward) -> None:
    def post(who: str, body: dict):  # noqa: ANN202
        return ward.community.client.post("/fhir/Communication", json=body, headers=auth(ward.tokens[who]))

    for change, element in [({"inResponseTo": []}, "Communication.inResponseTo"),
                            ({"status": "in-progress"}, "Communication.status"),
                            ({"sender": {}}, "Communication.sender.display"),
                            ({"payload": [{"contentString": " "}]}, "Communication.payload")]:
        bad = post("th01_his", _reply(ward, **change))
        assert bad.status_code == 422 and bad.json()["issue"][0]["expression"] == [element], bad.text
    assert post("th01_his", _reply(ward, status="sideways")).status_code == 422  # not valid R4 at all
    assert post("th02", _reply(ward)).status_code == 403
    done = post("th01_his", _reply(ward))
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["resourceType"] == "Communication" and answer["id"] == ward.notice and answer["status"] == "completed"
    listed = _get(ward, "th01", status="acknowledged").json()["items"][0]["acknowledgement"]
    assert (listed["name"], listed["role"], listed["action"]) == ("李娜", "护士", "已报告值班医师")
    assert post("th01_his", _reply(ward)).status_code == 409


def test_members_that_poll_read_their_notices_as_communications(ward: Ward) -> None:
    found = _get(ward, "th01_his", "/fhir/Communication", status="in-progress").json()
    assert found["resourceType"] == "Bundle" and found["total"] == 1
    resource = found["entry"][0]["resource"]
    assert resource["id"] == ward.notice and resource["status"] == "in-progress" and resource["priority"] == "stat"
    assert found["entry"][0]["fullUrl"].endswith(f"/fhir/Communication/{ward.notice}")
    assert _get(ward, "th02", "/fhir/Communication").json()["total"] == 0
    assert _get(ward, "th02", f"/fhir/Communication/{ward.notice}").status_code == 403
    assert _get(ward, "th01", "/fhir/Communication", status="done").status_code == 400
    assert _get(ward, "th01", "/fhir/Communication", subject="x").status_code == 400
    read = _get(ward, "th01", f"/fhir/Communication/{ward.notice}")
    assert read.status_code == 200 and read.headers["etag"] == 'W/"1"'
    assert _ack(ward, "th01").status_code == 200
    completed = _get(ward, "th01", f"/fhir/Communication/{ward.notice}").json()
    assert completed["status"] == "completed" and completed["note"][0]["authorString"] == "李娜（护士）"
    assert _get(ward, "th01", "/fhir/Communication", status="completed").json()["total"] == 1
    assert _get(ward, "th01", "/fhir/Communication", status="in-progress").json()["total"] == 0
    assert ward.community.client.get("/fhir/Patient/th01-pat-1", headers=auth(ward.tokens["county"])).status_code == 200


def test_a_withdrawn_notice_cannot_be_acknowledged(ward: Ward) -> None:
    settings = ward.community.client.app.state.settings
    consumer = bound_consumer(settings, ward.community.db, ward.clock)
    apply(consumer, ward.community.db, lab_event([potassium(4.6)], version=1, status="amended"))  # corrected
    refused = _ack(ward, "th01")
    assert refused.status_code == 409 and "was withdrawn" in refused.json()["issue"][0]["diagnostics"]
    closed = _get(ward, "th01", status="closed").json()
    assert [(i["id"], i["status"]) for i in closed["items"]] == [(ward.notice, "withdrawn")]
    assert _get(ward, "th01", f"/fhir/Communication/{ward.notice}").json()["status"] == "entered-in-error"
