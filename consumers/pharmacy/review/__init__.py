"""Prescription review (集中审方) as a pure engine: rules as data (rules/*.yaml, versioned, each with its
source) and a review of one prescription against the patient's county-wide context. No database, broker
or web here; the pharmacy part feeds it and keeps what it answers."""

from consumers.pharmacy.review.engine import RuleSet, default_rules
from consumers.pharmacy.review.errors import ReviewRulesError
from consumers.pharmacy.review.model import (
    Allergy,
    Dose,
    Finding,
    LabValue,
    Medicine,
    PatientContext,
    Review,
)

__all__ = ["Allergy", "Dose", "Finding", "LabValue", "Medicine", "PatientContext", "Review", "ReviewRulesError",
           "RuleSet", "default_rules"]
