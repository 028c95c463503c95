"""The pharmacy review benchmark runs end to end at a small size (its figures come from `make bench`)."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from consumers.pharmacy import record
from consumers.pharmacy.models import PharmacyMedication, PharmacyReview
from hub.app import parts as registered
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import ResultOutboxRow
from hub.tools.bench_pharmacy import prefill, review_prescriptions, run_pharmacy_benchmark

KEYS = {"pharmacy_patients", "pharmacy_prefill_s", "pharmacy_prescriptions", "pharmacy_reviewed",
        "pharmacy_reviews_per_s", "pharmacy_review_ms_p50", "pharmacy_review_ms_p99", "pharmacy_cpu_s_per_1000",
        "pharmacy_outcomes"}


def test_pharmacy_benchmark_reports_every_prescription_reviewed(settings: HubSettings) -> None:
    result = run_pharmacy_benchmark(settings, patients=200, prescriptions=50)
    assert set(result) == KEYS
    assert result["pharmacy_patients"] == 200 and result["pharmacy_prescriptions"] == 50
    assert result["pharmacy_reviewed"] == 50 and sum(result["pharmacy_outcomes"].values()) == 50
    assert set(result["pharmacy_outcomes"]) == {"pass", "warn", "hold"}
    assert result["pharmacy_reviews_per_s"] > 0 and 0 < result["pharmacy_review_ms_p50"] <= result["pharmacy_review_ms_p99"]


def test_people_are_linked_across_members_and_each_new_prescription_gets_its_review(
        settings: HubSettings, db: Database) -> None:
    rng = random.Random(3)
    prefill(db, 200, rng)
    shared = registered.services().shared_record
    with db.transaction() as session:
        # Person 7: a township record and a county hospital record, one person in the patient index.
        assert record.keys_of(session, shared, "cty01-pat-C0000007", "cty01/C0000007") == ["cty01/C0000007",
                                                                                         "th03/0000007"]
        history = session.scalar(select(func.count()).select_from(PharmacyMedication))
    result = review_prescriptions(db, settings, 200, 50, rng)
    with db.transaction() as session:
        new = set(session.scalars(select(PharmacyMedication.id).where(PharmacyMedication.id.like("%-rx-b%"))))
        reviewed = set(session.scalars(select(PharmacyReview.prescription)))
        sent = session.scalar(select(func.count()).select_from(ResultOutboxRow))
        assert session.scalar(select(func.count()).select_from(PharmacyMedication)) == history + 50
    assert len(new) == 50 and reviewed == new and sent == 50
    assert result["pharmacy_outcomes"]["pass"] < 50  # some prescriptions trip rules
