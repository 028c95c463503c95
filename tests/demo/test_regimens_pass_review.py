"""The demo's ordinary prescriptions and the central pharmacy's rules agree: every regimen the demo can
write passes review (or at most warns) for a typical patient, while the lines the demo writes on
purpose to be caught (an adult dose for a child, warfarin + an NSAID across members, metformin with an
eGFR below 30) are held. Each line goes the way the demo's does: the member's HIS row, the connector's
mapping to a FHIR MedicationRequest, the pharmacy's translation into a Medicine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.his_db.mapping import load_mapping, map_row
from consumers.pharmacy import medicines
from consumers.pharmacy.review import LabValue, Medicine, PatientContext, Review, default_rules
from hub.tools.demo import prescribing
from hub.tools.demo.catalogues import vendor_codes
from hub.tools.demo.prescribing import Line
from hub.tools.demo.writers import VendorA, VendorB

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
RULES = default_rules()
ADULT_AGE = 45
CHILD_AGES = (0.5, 1, 2, 4, 6, 9, 13)  # the demo writes a weight for a child under CHILD_AGE
_WRITERS = {"vendor_a": VendorA(vendor_codes("vendor_a")), "vendor_b": VendorB(vendor_codes("vendor_b"))}
_MAPPINGS = {vendor: load_mapping(vendor) for vendor in _WRITERS}


def _request(line: Line, vendor: str, facility: str = "th01") -> dict[str, Any]:
    """The FHIR MedicationRequest the connector makes of the demo's row for this line."""
    mapping = _MAPPINGS[vendor]
    spec = next(t for t in mapping.tables if t.event == "prescription")
    rows = _WRITERS[vendor].rx_line(1, "RX0001", 1, "A0000001", line, NOW, NOW.strftime(spec.change_format))
    (table, row), = rows.inserts
    assert table == spec.table
    return map_row(spec, row, [], facility, mapping).resource


def _medicine(line: Line, vendor: str, facility: str = "th01") -> tuple[Medicine, float | None]:
    resource = _request(line, vendor, facility)
    return medicines.medicine(resource, line.drug, facility), medicines.written_weight(resource)


def _review(line: Line, age: float, vendor: str = "vendor_a", active: tuple[Medicine, ...] = (),
            egfr: LabValue | None = None) -> Review:
    medicine, weight = _medicine(line, vendor)
    patient = PatientContext(age, "male", weight, False, egfr, None, (), active)
    return RULES.review(medicine, patient, NOW)


def _describe(line: Line, who: str, review: Review) -> str:
    held = "; ".join(f.message_zh for f in review.findings if f.action == "hold")
    return f"{line.drug.name} {line.dose} {line.freq} {line.days}天 ({who}): {held}"


def _ordinary_adult_lines() -> list[Line]:
    return [prescribing.adult_regimen_line(drug, count, freq, days)
            for drug in prescribing.ADULT_DRUGS for count, freq in prescribing.adult_regimens(drug)
            for days in (min(prescribing.DAYS), max(prescribing.DAYS))]


def _child_weights(age: float) -> tuple[float, ...]:
    """The lightest and heaviest weight the demo gives a child of this age (weight_for_age, ±10%)."""
    base = 8.0 if age < 1 else 2 * age + 8
    return round(base * 0.9, 1), round(base * 1.1, 1)


@pytest.mark.parametrize("vendor", sorted(_WRITERS))
def test_every_ordinary_adult_regimen_passes_review(vendor: str) -> None:
    lines = _ordinary_adult_lines()
    assert {line.drug.name for line in lines} == {d.name for d in prescribing.ADULT_DRUGS}
    held = [_describe(line, f"{ADULT_AGE} y", review)
            for line in lines if (review := _review(line, ADULT_AGE, vendor)).outcome == "hold"]
    assert not held, f"{len(held)} ordinary adult lines held:\n" + "\n".join(held)


def test_every_paediatric_regimen_passes_review_at_every_age_and_weight() -> None:
    held = []
    for name in sorted(prescribing.PAEDIATRIC):
        for age in CHILD_AGES:
            for weight in _child_weights(age):
                line = prescribing.paediatric_line(name, weight)
                review = _review(line, age)
                if review.outcome == "hold":
                    held.append(_describe(line, f"{age} y, {weight} kg", review))
    assert not held, f"{len(held)} paediatric lines held:\n" + "\n".join(held)


def test_the_usual_regimens_name_catalogue_drugs_and_members_frequencies() -> None:
    names = {d.name for d in prescribing.ADULT_DRUGS}
    assert set(prescribing.USUAL) <= names, set(prescribing.USUAL) - names
    assert all(freq in prescribing.PER_DAY and count >= 1 for count, freq in prescribing.USUAL.values())
    assert not set(prescribing.PAEDIATRIC) & names


@pytest.mark.parametrize(("name", "count", "freq"), prescribing.ADULT_FOR_CHILD)
@pytest.mark.parametrize("age", (1, 3, 6))
def test_an_adult_product_and_dose_for_a_child_is_held(name: str, count: int, freq: str, age: float) -> None:
    for weight in _child_weights(age):
        line = prescribing.named(name, count, freq, 3, weight)
        assert _review(line, age).outcome == "hold", line


@pytest.mark.parametrize(("name", "count", "freq"), prescribing.INTERACTING)
def test_an_nsaid_or_aspirin_for_someone_on_warfarin_elsewhere_is_held(name: str, count: int, freq: str) -> None:
    warfarin, _ = _medicine(prescribing.warfarin(), "vendor_a", "cty01")
    line = prescribing.named(name, count, freq, 5)
    assert _review(line, 70, "vendor_b", active=(warfarin,)).outcome == "hold"
    assert _review(line, 70, "vendor_b").outcome != "hold"  # the interaction, not the regimen, holds it


def test_metformin_with_an_egfr_below_30_is_held() -> None:
    egfr = LabValue(25, "mL/min/1.73m2", NOW - timedelta(days=2), "cty01", "Observation/egfr-1")
    assert _review(prescribing.metformin(), 70, egfr=egfr).outcome == "hold"
    assert _review(prescribing.metformin(), 70).outcome != "hold"
