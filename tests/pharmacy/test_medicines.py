"""Turning what members write into what the rules compare: strengths per counted unit."""

import pytest

from consumers.pharmacy.medicines import strength_mg


@pytest.mark.parametrize(("strength", "unit", "mg"), [
    ("0.25g", "粒", 250.0),
    ("47.5mg", "片", 47.5),
    ("100μg/揿", "瓶", 0.1),
    ("10mg/2ml", "支", 10.0),  # an ampoule's label gives its whole content
    ("0.5g/100ml", "瓶", 500.0),
    ("10mg/2ml", "片", None),  # a concentration is no tablet's strength
    ("50mg/12.5mg", "片", None),  # a compound has no one strength
    ("400IU/10ml", "支", None),
    ("250ml", "瓶", None),
    (None, "片", None),
])
def test_mg_per_counted_unit(strength: str | None, unit: str, mg: float | None) -> None:
    assert strength_mg(strength, unit) == mg
