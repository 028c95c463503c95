"""Delivery to a member's FHIR endpoint (a real HTTP server): a transaction Bundle that PUTs the result
by id, 2xx acknowledged, 4xx refused with the OperationOutcome's words, 5xx and down retried."""

from __future__ import annotations

import threading

from consumers.delivery.models import ACKNOWLEDGED, QUEUED, REFUSED
from hub.core.config import HubSettings
from hub.core.db import Database
from tests.delivery.factories import notice_event, report_event
from tests.delivery.harness import (
    destination,
    fhir,
    member_config,
    messages,
    queue_results,
    route_of,
    sending,
    states,
)
from tests.delivery.members import FhirMember
from tests.waiting import wait_for


def test_a_report_is_put_with_its_observations_and_a_stable_bundle_id(db: Database, settings: HubSettings) -> None:
    member = FhirMember().start()
    try:
        config = member_config("th02", fhir(member.url, token="s3cret", headers={"X-Api-Key": "k1"}))
        event = report_event("th02", "9")
        queue_results(db, settings, config, event, notice_event("th02", "9"))
        with sending(db, route_of(config)):
            wait_for(lambda: states(db, ACKNOWLEDGED))
        report, notice = member.received
        [row, _] = messages(db)
        assert (report["resourceType"], report["type"], report["id"]) == ("Bundle", "transaction", row.message_id)
        assert [e["request"] for e in report["entry"]] == [
            {"method": "PUT", "url": f"DiagnosticReport/{event.resource['id']}"},
            *({"method": "PUT", "url": f"Observation/{o['id']}"} for o in event.related)]
        assert report["entry"][0]["resource"]["conclusion"] == event.resource["conclusion"]  # Chinese as sent
        assert [e["resource"]["resourceType"] for e in notice["entry"]] == ["Communication", "Observation"]
        assert member.headers[0]["Authorization"] == "Bearer s3cret" and member.headers[0]["X-Api-Key"] == "k1"
        assert member.headers[0]["Content-Type"] == "application/fhir+json"
    finally:
        member.stop()


def test_4xx_is_refused_with_the_operation_outcome_and_the_next_goes(db: Database, settings: HubSettings) -> None:
    refusal = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing",
                                                              "diagnostics": "Patient/th02-pat-9 不是本院患者"}]}
    calls: list[int] = []

    def status(_bundle: dict) -> tuple[int, dict | None]:
        calls.append(1)
        return (422, refusal) if len(calls) == 1 else (201, None)

    member = FhirMember(status=status).start()
    try:
        config = member_config("th02", fhir(member.url))
        queue_results(db, settings, config, report_event("th02", "9", 1), report_event("th02", "9", 2))
        with sending(db, route_of(config)):
            wait_for(lambda: all(m.state != QUEUED for m in messages(db)))
        first, second = messages(db)
        assert first.state == REFUSED
        assert first.last_error == f"{member.url} answered 422: Patient/th02-pat-9 不是本院患者"
        assert second.state == ACKNOWLEDGED
        assert len(member.received) == 2
    finally:
        member.stop()


def test_5xx_and_a_member_down_are_retried_until_it_answers(db: Database, settings: HubSettings) -> None:
    healthy = threading.Event()
    member = FhirMember(status=lambda _b: (201, None) if healthy.is_set() else (503, None))
    config = member_config("th02", fhir(member.url))
    queue_results(db, settings, config, report_event("th02", "9"))
    try:
        with sending(db, route_of(config)):
            wait_for(lambda: "cannot connect" in (destination(db, "th02/fhir").last_error or ""))
            member.start()
            wait_for(lambda: len(member.received) >= 2)  # answered 503 twice: still queued
            assert messages(db)[0].state == QUEUED and "503" in (messages(db)[0].last_error or "")
            healthy.set()
            wait_for(lambda: states(db, ACKNOWLEDGED))
        assert len({b["id"] for b in member.received}) == 1  # the same Bundle every time
        assert destination(db, "th02/fhir").failing_since is None
    finally:
        member.stop()
