"""Prescriptions reviewed against the person's county-wide record (two members, one person through the
patient index): pass, warn, hold, fail safe, the mapping queue and decisions, each with its event."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consumers.pharmacy import consumer as consumer_module
from consumers.pharmacy import reviewing
from consumers.pharmacy.models import PharmacyLocalCode, PharmacyReview
from consumers.pharmacy.status import pharmacy_status
from hub.core.db.models import AuditLog, ResultOutboxRow
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from tests.api.conftest import Community, auth
from tests.factories import patient_event
from tests.pharmacy.factories import (
    ASPIRIN,
    CLOPIDOGREL,
    IBUPROFEN,
    METFORMIN,
    OMEPRAZOLE,
    PANTOPRAZOLE,
    WARFARIN,
    allergy,
    apply,
    bound_consumer,
    coded,
    dispense,
    egfr,
    local,
    prescription,
)

CODEC = EventCodec(FileSchemaRegistry())
AZITHROMYCIN = "D0004"


def reviews(community: Community) -> dict[str, PharmacyReview]:
    with community.db.sessions() as session:
        return {r.prescription: r for r in session.scalars(select(PharmacyReview))}


def review_events(community: Community) -> list:
    with community.db.sessions() as session:
        rows = session.scalars(select(ResultOutboxRow).where(ResultOutboxRow.topic == "hub.prescription-review.v1")
                               .order_by(ResultOutboxRow.seq)).all()
        return [CODEC.decode(r.value) for r in rows]


def test_a_plain_prescription_passes_and_the_member_is_told(community: Community, settings) -> None:
    apply(bound_consumer(settings, community.db), community.db, prescription("1", coded(METFORMIN)))
    row = reviews(community)["MedicationRequest/th01-rx-1"]
    assert (row.outcome, row.status, row.findings) == ("pass", "completed", "[]")
    [event] = review_events(community)
    assert event.event_type == "prescription_review" and event.patient_key == "th01/1"
    assert event.resource["businessStatus"]["coding"][0]["code"] == "pass"
    assert event.resource["for"]["reference"] == f"Patient/{community.golden}"
    assert event.resource["focus"]["reference"] == "MedicationRequest/th01-rx-1"


def test_interaction_with_the_other_members_medicine_holds(community: Community, settings) -> None:
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, prescription("9", coded(WARFARIN), facility="cty01", local_id="A77", dose=2.5,
                                               unit="mg", per_day=1))
    apply(consumer, community.db, prescription("2", coded(IBUPROFEN), dose=0.3, per_day=2))
    row = reviews(community)["MedicationRequest/th01-rx-2"]
    assert (row.outcome, row.status, row.priority) == ("hold", "ready", "urgent")
    [finding] = reviewing.findings(row)
    assert finding["kind"] == "interaction" and "cty01" in finding["message_en"]
    assert finding["implicated"] == ["MedicationRequest/cty01-rx-9"]
    task = review_events(community)[-1]
    assert task.resource["status"] == "ready" and task.resource["restriction"]["period"]["end"]
    issue = next(r for r in task.related if r["resourceType"] == "DetectedIssue")
    assert {"reference": "MedicationRequest/cty01-rx-9"} in issue["implicated"]


def test_a_dispense_at_the_other_member_counts_as_active(community: Community, settings) -> None:
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, dispense("1", coded(OMEPRAZOLE)))
    apply(consumer, community.db, prescription("3", coded(PANTOPRAZOLE), dose=40, unit="mg", per_day=1))
    row = reviews(community)["MedicationRequest/th01-rx-3"]
    assert row.outcome == "warn" and row.status == "completed"
    [finding] = reviewing.findings(row)
    assert finding["kind"] == "duplicate" and finding["implicated"] == ["MedicationDispense/cty01-disp-1"]
    # Aspirin with clopidogrel is dual antiplatelet therapy, not a duplicate.
    apply(consumer, community.db, dispense("2", coded(CLOPIDOGREL)))
    apply(consumer, community.db, prescription("4", coded(ASPIRIN), dose=100, unit="mg", per_day=1))
    assert reviews(community)["MedicationRequest/th01-rx-4"].outcome == "pass"


def test_allergy_recorded_at_another_member_holds(community: Community, settings) -> None:
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, allergy("1", "M01AE", "布洛芬类", facility="cty01", local_id="A77"))
    apply(consumer, community.db, prescription("4", coded(IBUPROFEN), dose=0.3, per_day=2))
    finding = reviewing.findings(reviews(community)["MedicationRequest/th01-rx-4"])[0]
    assert finding["kind"] == "allergy" and finding["implicated"] == ["AllergyIntolerance/cty01-alg-1"]


def test_renal_rule_uses_the_latest_egfr_from_any_member(community: Community, settings) -> None:
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, egfr("old", 80, when="2026-10-01T08:00:00+08:00"), egfr("new", 22))
    apply(consumer, community.db, prescription("5", coded(METFORMIN)))
    finding = reviewing.findings(reviews(community)["MedicationRequest/th01-rx-5"])[0]
    assert finding["kind"] == "renal" and finding["implicated"] == ["Observation/cty01-obs-new"]
    apply(consumer, community.db, egfr("newer", 75, when="2026-11-23T08:00:00+08:00"))
    apply(consumer, community.db, prescription("6", coded(METFORMIN)))
    # Kidneys fine now; what is left is the held metformin of rx-5, still active (a duplicate).
    assert [f["kind"] for f in reviewing.findings(reviews(community)["MedicationRequest/th01-rx-6"])] == ["duplicate"]


class BrokenRules:
    version = "broken"

    def review(self, *args: object) -> object:
        raise ZeroDivisionError("division by zero")


def test_an_engine_error_holds_never_passes(community: Community, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "active_rules", lambda session: BrokenRules())
    apply(bound_consumer(settings, community.db), community.db, prescription("7", coded(METFORMIN)))
    row = reviews(community)["MedicationRequest/th01-rx-7"]
    assert (row.outcome, row.status) == ("hold", "ready")
    [finding] = reviewing.findings(row)
    assert finding["rule_id"] == "failsafe.engine-error" and "ZeroDivisionError" in finding["message_en"]


def test_an_unmapped_local_code_waits_and_is_reviewed_again_once_mapped(community: Community, settings) -> None:
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, prescription("8", local("th01", "YP-0099", "二甲双胍(本院)")),
          prescription("10", local("th01", "YP-0099", "二甲双胍(本院)"), local_id="1"))
    found = reviews(community)
    held = found["MedicationRequest/th01-rx-8"]
    assert (held.outcome, held.waits_for_mapping) == ("hold", True)
    assert reviewing.findings(held)[0]["kind"] in ("unrecognised", "failsafe")
    with community.db.sessions() as session:
        [code] = session.scalars(select(PharmacyLocalCode)).all()
        assert (code.facility_id, code.code, code.seen, code.drug_code) == ("th01", "YP-0099", 2, None)
        code_id = code.id
    headers = auth(community.tokens["pharmacist"])
    queue = community.client.get("/api/pharmacy/mappings", headers=headers).json()
    assert queue["items"][0]["code"] == "YP-0099" and queue["items"][0]["prescriptions"] == 2
    answer = community.client.post(f"/api/pharmacy/mappings/{code_id}", json={"drug": METFORMIN}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["recognised"] == 2 and len(answer.json()["reviewed"]) == 2
    again = reviews(community)["MedicationRequest/th01-rx-8"]
    assert (again.outcome, again.status, again.version, again.waits_for_mapping) == ("pass", "completed", 2, False)
    assert community.client.get("/api/pharmacy/mappings", headers=headers).json()["total"] == 0
    with community.db.sessions() as session:
        assert session.scalar(select(AuditLog.id).where(AuditLog.action == "pharmacy_code_mapped"))
    # A new prescription with the same code is recognised at once.
    apply(consumer, community.db, prescription("11", local("th01", "YP-0099", "二甲双胍(本院)")))
    recognised = reviews(community)["MedicationRequest/th01-rx-11"]  # metformin, beside the other two
    assert {f["kind"] for f in reviewing.findings(recognised)} == {"duplicate"}


def test_mapping_needs_a_pharmacist_and_a_catalogue_drug(community: Community, settings) -> None:
    apply(bound_consumer(settings, community.db), community.db, prescription("12", local("th01", "X1", "某药")))
    with community.db.sessions() as session:
        code_id = session.scalar(select(PharmacyLocalCode.id))
    assert community.client.post(f"/api/pharmacy/mappings/{code_id}", json={"drug": METFORMIN},
                                 headers=auth(community.tokens["clinician"])).status_code == 403
    bad = community.client.post(f"/api/pharmacy/mappings/{code_id}", json={"drug": "D9999"},
                                headers=auth(community.tokens["pharmacist"]))
    assert bad.status_code == 422 and "D9999" in bad.text


@pytest.mark.parametrize(("body", "decision"), [
    ({"action": "approve"}, "approve"),
    ({"action": "return", "reason_code": "interaction", "text": "请停用布洛芬"}, "return"),
    ({"action": "override", "text": "短期使用，已告知患者"}, "override"),
])
def test_decisions_are_audited_sent_and_final(community: Community, settings, body: dict, decision: str) -> None:
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, prescription("9", coded(WARFARIN), facility="cty01", local_id="A77", dose=2.5,
                                               unit="mg", per_day=1),
          prescription("2", coded(IBUPROFEN), dose=0.3, per_day=2))
    rid = reviews(community)["MedicationRequest/th01-rx-2"].id
    headers = auth(community.tokens["pharmacist"])
    queue = community.client.get("/api/pharmacy/queue", headers=headers).json()
    assert [i["id"] for i in queue["items"]] == [rid] and queue["items"][0]["seconds_left"] is not None
    view = community.client.get(f"/api/pharmacy/reviews/{rid}", headers=headers).json()
    assert {m["facility"] for m in view["person"]["medications"]} == {"th01", "cty01"}
    answer = community.client.post(f"/api/pharmacy/reviews/{rid}/decision", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == decision
    task = review_events(community)[-1].resource
    assert task["status"] == "completed" and task["businessStatus"]["coding"][0]["code"] == decision
    if decision == "return":
        assert task["statusReason"]["coding"][0]["code"] == "interaction" and task["note"][0]["text"] == "请停用布洛芬"
    again = community.client.post(f"/api/pharmacy/reviews/{rid}/decision", json={"action": "approve"}, headers=headers)
    assert again.status_code == 409
    with community.db.sessions() as session:
        assert session.scalar(select(AuditLog.actor).where(AuditLog.action == f"pharmacy_{decision}")) == "pharmacist-chen"
    assert community.client.get("/api/pharmacy/queue", headers=headers).json()["total"] == 0


def test_decision_bodies_are_checked(community: Community, settings) -> None:
    headers = auth(community.tokens["pharmacist"])
    for body in ({"action": "return"}, {"action": "return", "reason_code": "nonsense"}, {"action": "override"},
                 {"action": "maybe"}):
        assert community.client.post("/api/pharmacy/reviews/x/decision", json=body, headers=headers).status_code == 400
    assert community.client.post("/api/pharmacy/reviews/x/decision", json={"action": "approve"},
                                 headers=headers).status_code == 404
    assert community.client.get("/api/pharmacy/queue", headers=auth(community.tokens["clinician"])).status_code == 403


def test_rules_are_data_with_versions(community: Community) -> None:
    headers = auth(community.tokens["pharmacist"])
    shipped = community.client.get("/api/pharmacy/rules", headers=headers).json()
    assert shipped["shipped"] is True and all(r["source"] for r in shipped["rules"])
    bad = community.client.post("/api/pharmacy/rules", json={"text": "interactions: [1"}, headers=headers)
    assert bad.status_code == 422
    text = ("version: local-2\nrules:\n  - {id: interaction.aspirin-ibuprofen, kind: interaction, a: B01AC06, "
            "b: M01AE01, severity: moderate, action: warn, text: {zh: 本院药事会：仅提示, en: 'P&T committee: warn only'}, "
            "source: 本院药事会}\n")
    made = community.client.post("/api/pharmacy/rules", json={"text": text, "note": "降为提示"}, headers=headers)
    assert made.status_code == 200, made.text
    now = community.client.get("/api/pharmacy/rules", headers=headers).json()
    assert now["version"].startswith("local-2+") and now["versions"][0]["author"] == "pharmacist-chen"
    assert [r["source"] for r in now["rules"]] == ["本院药事会"]


def test_metrics_and_status_show_the_queue_and_the_codes_waiting(community: Community, settings) -> None:
    apply(bound_consumer(settings, community.db), community.db, prescription("20", local("th01", "Z9", "某药")),
          prescription("9", coded(WARFARIN), facility="cty01", local_id="A77", dose=2.5, unit="mg", per_day=1),
          prescription("2", coded(IBUPROFEN), dose=0.3, per_day=2))
    text = community.client.get("/metrics", headers=auth(community.tokens["admin"])).text
    assert "hub_pharmacy_queue_depth 2.0" in text and "hub_pharmacy_unmapped_codes 1.0" in text
    assert 'hub_pharmacy_prescriptions_reviewed_total{outcome="hold"}' in text
    section = pharmacy_status(settings, community.db)
    assert section.rows[0][:2] == ("held prescriptions", 2) and section.rows[2][:2] == ("unmapped local drug codes", 1)
    assert section.rows[1][:2] == ("overdue", 2) and section.flagged == (1, 2)  # reviewed days ago (the test clock)


def test_a_withdrawn_prescription_leaves_the_queue(community: Community, settings) -> None:
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, prescription("21", local("th01", "Q1", "某药")))
    apply(consumer, community.db, prescription("21", local("th01", "Q1", "某药"), status="cancelled", version=1))
    row = reviews(community)["MedicationRequest/th01-rx-21"]
    assert (row.status, row.version) == ("cancelled", 2)
    task = review_events(community)[-1].resource
    assert task["status"] == "cancelled" and task["businessStatus"]["coding"][0]["code"] == "withdrawn"
    headers = auth(community.tokens["pharmacist"])
    assert community.client.get("/api/pharmacy/queue", headers=headers).json()["total"] == 0
    late = community.client.post(f"/api/pharmacy/reviews/{row.id}/decision", json={"action": "approve"}, headers=headers)
    assert late.status_code == 409


def test_a_prescription_held_for_an_unknown_age_is_reviewed_again_when_the_patient_arrives(
        community: Community, settings) -> None:
    """The prescription reached the pharmacy before its patient (another topic): held for the unknown age,
    then reviewed again when the patient's birth date arrives, from the same member or another one."""
    consumer = bound_consumer(settings, community.db, people=False)
    apply(consumer, community.db, prescription("30", coded(IBUPROFEN), dose=0.2, per_day=3),
          prescription("31", coded(AZITHROMYCIN), facility="cty01", local_id="A77", dose=0.5, per_day=1))
    for ident in ("MedicationRequest/th01-rx-30", "MedicationRequest/cty01-rx-31"):
        held = reviews(community)[ident]
        assert (held.outcome, held.status, held.version) == ("hold", "ready", 1)
        assert any("年龄不明" in f["message_zh"] for f in reviewing.findings(held))
    # Only th01's record of the person arrives; the index knows cty01/A77 is the same person.
    apply(consumer, community.db, patient_event("th01", "1", name="王秀英", resident_id="110101199003074573"))
    for ident in ("MedicationRequest/th01-rx-30", "MedicationRequest/cty01-rx-31"):
        again = reviews(community)[ident]
        assert (again.outcome, again.status, again.version) == ("pass", "completed", 2), reviewing.findings(again)
    assert [e.resource["businessStatus"]["coding"][0]["code"] for e in review_events(community)] == [
        "hold", "hold", "pass", "pass"]
    # The same facts again change nothing: no third review.
    apply(consumer, community.db, patient_event("th01", "1", name="王秀英", resident_id="110101199003074573", version=1))
    assert reviews(community)["MedicationRequest/th01-rx-30"].version == 2
