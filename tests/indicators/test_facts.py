"""From events to facts: visits with their level and diagnoses, each Observation of a report, 集采 from the
catalogue; what cannot be counted is refused with a reason (and dead-lettered by the runner)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumers.indicators import facts
from consumers.indicators.consumer import IndicatorConsumer
from consumers.indicators.models import IndicatorVisit
from hub.core.db import Database
from hub.core.errors import PermanentError
from hub.core.terminology import community_terminology
from tests.consumers.referral_factories import deliveries
from tests.indicators.factories import GLUCOSE, at, prescription, result, visit

WHEN = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)  # already November 1st in China


def test_a_visit_has_its_level_china_month_and_icd10_diagnoses() -> None:
    event = visit("vc07", "1", "9", WHEN, "E11.9")
    event.resource["diagnosis"] = [{"condition": {"concept": {"coding": [{"system": facts.ICD10, "code": "I10"}]}}}]
    found = facts.visit(event.resource, "vc07", "vc07/1", WHEN, {})
    assert (found.level, found.diagnoses, found.patient_id, found.visit_class) == ("village", ("E11.9", "I10"),
                                                                                     "vc07-pat-1", "AMB")
    assert facts.month_of(found.started_at) == "2026-11"
    assert facts.facility_level("qs-hosp", {"qs-hosp": "county"}) == "county"
    assert facts.facility_level("clinic9", {}) == "unknown"


def test_each_observation_of_a_report_is_a_result() -> None:
    report = {"resourceType": "DiagnosticReport", "id": "dr1", "status": "final", "effectiveDateTime": WHEN.isoformat(),
              "subject": {"reference": "Patient/th01-pat-1"}}
    related = (result("th01", "1", "o1", at(10, 1), GLUCOSE).resource,
               {"resourceType": "Observation", "id": "o2", "code": {"text": "尿常规"}})
    found = facts.results(report, related, "th01", "th01/1", WHEN)
    assert [(r.id, r.codes, r.display, r.status, r.patient_id) for r in found] == [
        ("th01-obs-o1", ("http://loinc.org|2345-7",), "葡萄糖", "final", "th01-pat-1"),
        ("o2", (), "尿常规", "final", "th01-pat-1")]
    assert found[1].effective_at == WHEN  # no date of its own: the report's


def test_vbp_comes_from_the_community_catalogue() -> None:
    terms = community_terminology()
    line = facts.prescription_line(prescription("th01", "1", "1", WHEN, "D0011", "二甲双胍片").resource, "th01",
                                   "th01/1", WHEN, terms)
    assert (line.drug_code, line.vbp) == ("D0011", "第二批")
    local = facts.prescription_line(prescription("th01", "1", "2", WHEN, "X9", "自制", local=True).resource, "th01",
                                    "th01/1", WHEN, terms)
    assert (local.drug_code, local.vbp, local.name) == (None, None, "自制")


def test_what_cannot_be_counted_is_refused_with_a_reason(db: Database) -> None:
    nameless = visit("th01", "1", "1", WHEN, "I10")
    del nameless.resource["id"]
    with pytest.raises(PermanentError, match="^Encounter without an id: it cannot be counted"), db.transaction() as s:
        IndicatorConsumer(levels={}).apply_batch(s, deliveries([nameless]))
    repeated = [visit("th01", "1", "1", WHEN, "I10"), visit("th01", "1", "1", WHEN, "I10", status="entered-in-error")]
    with db.transaction() as session:  # a newer version of the visit replaces the row
        IndicatorConsumer(levels={}).apply_batch(session, deliveries(repeated))
    with db.reading() as session:
        row = session.get(IndicatorVisit, "th01-enc-1")
        assert row is not None and row.status == "entered-in-error" and row.level == "township"
