"""Delivery over MLLP to a real listener: the ACK awaited, a member down then back, refusals, order per
patient, and nothing sent twice across a restart. Real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading

from consumers.delivery.mllp_send import MllpTransport
from consumers.delivery.models import ACKNOWLEDGED, QUEUED, REFUSED
from hub.core.config import HubSettings
from hub.core.db import Database
from tests.delivery.factories import report_event
from tests.delivery.harness import (
    destination,
    member_config,
    messages,
    mllp,
    queue_results,
    route_of,
    sending,
    states,
)
from tests.delivery.members import MllpMember, always, field_of
from tests.waiting import wait_for


def test_a_report_reaches_the_listener_and_counts_only_when_acknowledged(db: Database, settings: HubSettings) -> None:
    member = MllpMember(charset="gb18030").start()
    try:
        config = member_config("th01", mllp(member.port, "GB18030"))
        queue_results(db, settings, config, report_event("th01", "1"))
        with sending(db, route_of(config)):
            wait_for(lambda: states(db, ACKNOWLEDGED))
        [row] = messages(db)
        assert member.control_ids() == [row.message_id]
        assert member.raw[0] == row.body  # the bytes rendered once are the bytes on the wire
        text = member.received[0]
        assert field_of(text, "MSH", 18) == "GB 18030-2000" and "窦性心律，ST段压低" in text
        assert "MSA|AA|" + row.message_id in (row.answer or "").replace("\n", "\r")
        state = destination(db, "th01/mllp")
        assert (state.sent_total, state.acknowledged_total, state.refused_total, state.failing_since) == (1, 1, 0, None)
    finally:
        member.stop()


def test_no_ack_means_not_delivered_and_the_same_message_goes_again(db: Database, settings: HubSettings) -> None:
    answering = threading.Event()
    member = MllpMember(answer=lambda _m: ("AA", "") if answering.is_set() else None).start()
    try:
        config = member_config("th01", mllp(member.port, timeout_s=0.3))
        queue_results(db, settings, config, report_event("th01", "1"))
        with sending(db, route_of(config)):
            wait_for(lambda: len(member.received) >= 2)  # sent, no ACK within 0.3 s, sent again
            [row] = messages(db)
            assert row.state == QUEUED and "no ACK" in (row.last_error or "")
            assert destination(db, "th01/mllp").failing_since is not None
            answering.set()
            wait_for(lambda: states(db, ACKNOWLEDGED))
        assert set(member.control_ids()) == {row.message_id}  # every resend with the same MSH-10
        assert destination(db, "th01/mllp").failing_since is None
    finally:
        member.stop()


def test_a_member_down_then_back_gets_everything_once_in_order(db: Database, settings: HubSettings) -> None:
    member = MllpMember()  # not listening yet: the township's HIS is down
    config = member_config("th01", mllp(member.port))
    events = [report_event("th01", str(p), n) for n in range(1, 4) for p in (1, 2)]
    queue_results(db, settings, config, *events)
    try:
        with sending(db, route_of(config)):
            wait_for(lambda: destination(db, "th01/mllp").failing_since is not None)
            assert "cannot connect" in (destination(db, "th01/mllp").last_error or "")
            assert states(db, QUEUED)
            member.start()
            wait_for(lambda: states(db, ACKNOWLEDGED))
        rows = messages(db)
        assert sorted(member.control_ids()) == sorted(r.message_id for r in rows)  # nothing lost, nothing twice
        for patient in ("1", "2"):
            sent = [field_of(m, "OBR", 3) for m in member.received if field_of(m, "PID", 3).startswith(patient + "^")]
            assert sent == ["R00001", "R00002", "R00003"]
        assert destination(db, "th01/mllp").failing_since is None
    finally:
        member.stop()


def test_a_restart_sends_only_what_was_not_acknowledged(db: Database, settings: HubSettings) -> None:
    member = MllpMember().start()
    config = member_config("th01", mllp(member.port))
    try:
        queue_results(db, settings, config, *[report_event("th01", "1", n) for n in (1, 2)])
        with sending(db, route_of(config)):
            wait_for(lambda: states(db, ACKNOWLEDGED))
        # The hub stops; more results arrive; it starts again.
        queue_results(db, settings, config, *[report_event("th01", "1", n) for n in (3, 4)])
        with sending(db, route_of(config)):
            wait_for(lambda: states(db, ACKNOWLEDGED))
        ids = member.control_ids()
        assert len(ids) == 4 and len(set(ids)) == 4
        assert [field_of(m, "OBR", 3) for m in member.received] == ["R00001", "R00002", "R00003", "R00004"]
    finally:
        member.stop()


def test_a_refusal_is_dead_lettered_with_the_reason_and_the_next_one_goes(db: Database, settings: HubSettings) -> None:
    def answer(message: str) -> tuple[str, str]:
        if field_of(message, "OBR", 3) == "R00001":
            return "AE", "PID-3 患者 1 在本院不存在"
        return "AA", ""

    member = MllpMember(answer=answer).start()
    config = member_config("th01", mllp(member.port))
    try:
        queue_results(db, settings, config, *[report_event("th01", "1", n) for n in (1, 2)])
        with sending(db, route_of(config)):
            wait_for(lambda: all(m.state != QUEUED for m in messages(db)))
        first, second = messages(db)
        assert (first.state, first.last_error) == (REFUSED, "AE: PID-3 患者 1 在本院不存在")
        assert second.state == ACKNOWLEDGED
        assert len(member.received) == 2  # a refusal is not retried
        state = destination(db, "th01/mllp")
        assert (state.refused_total, state.acknowledged_total, state.failing_since) == (1, 1, None)
    finally:
        member.stop()


def test_a_failing_message_holds_back_its_patient_only(db: Database, settings: HubSettings) -> None:
    healed = threading.Event()

    def answer(message: str) -> tuple[str, str] | None:
        if field_of(message, "PID", 3).startswith("1^") and not healed.is_set():
            return None  # patient 1's first report: no ACK (the member's interface is stuck on it)
        return ("AA", "")

    member = MllpMember(answer=answer).start()
    config = member_config("th01", mllp(member.port, timeout_s=0.3))
    try:
        events = [report_event("th01", "1", 1), report_event("th01", "1", 2),
                  report_event("th01", "2", 1), report_event("th01", "2", 2)]
        queue_results(db, settings, config, *events)
        with sending(db, route_of(config)):
            wait_for(lambda: [m.state for m in messages(db)] == [QUEUED, QUEUED, ACKNOWLEDGED, ACKNOWLEDGED])
            wait_for(lambda: len([m for m in member.received if field_of(m, "PID", 3).startswith("1^")]) >= 2)
            patient_1 = {field_of(m, "OBR", 3) for m in member.received if field_of(m, "PID", 3).startswith("1^")}
            assert patient_1 == {"R00001"}  # its second report waits behind the first
            healed.set()
            wait_for(lambda: states(db, ACKNOWLEDGED))
        order = [field_of(m, "OBR", 3) for m in member.received if field_of(m, "PID", 3).startswith("1^")]
        assert order[-1] == "R00002" and set(order[:-1]) == {"R00001"}
    finally:
        member.stop()


def test_always_helper_answers_aa() -> None:
    assert always()("MSH|") == ("AA", "")


def test_a_connection_the_member_closed_while_idle_is_reopened_without_a_failure(
        db: Database, settings: HubSettings) -> None:
    member = MllpMember().start()
    config = member_config("th01", mllp(member.port))
    route = route_of(config)
    transport = MllpTransport(route.destination)  # type: ignore[arg-type]
    try:
        queue_results(db, settings, config, report_event("th01", "1", 1))
        [first] = messages(db)
        assert transport.send(first.message_id, first.body).verdict == "acknowledged"
        member.stop()  # the listener restarts: the connection the sender holds is gone
        member.start()
        assert transport.send(first.message_id, first.body).verdict == "acknowledged"
        assert member.control_ids() == [first.message_id, first.message_id]
    finally:
        transport.close()
        member.stop()


def test_two_hubs_on_one_database_send_each_message_once(db: Database, settings: HubSettings) -> None:
    member = MllpMember().start()
    config = member_config("th01", mllp(member.port))
    try:
        queue_results(db, settings, config, *[report_event("th01", str(p), n) for n in (1, 2) for p in range(5)])
        with sending(db, route_of(config)), sending(db, route_of(config)):
            wait_for(lambda: states(db, ACKNOWLEDGED))
        ids = member.control_ids()
        assert len(ids) == 10 and len(set(ids)) == 10
        # The hub that held the destination stopped and let go: the next one to send takes it.
        queue_results(db, settings, config, report_event("th01", "0", 3))
        with sending(db, route_of(config)):
            wait_for(lambda: states(db, ACKNOWLEDGED))
        assert len(member.control_ids()) == 11
    finally:
        member.stop()
