"""The topic catalogue: which event types exist, where they travel, and how they are keyed.

Keys are the source patient key (`facility/local-patient-id`), so one patient's events from one
member stay in order on one partition; stock events, which name no patient, are keyed `facility/drug`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub.core.config import HubSettings


@dataclass(frozen=True)
class TopicSpec:
    event_type: str  # also the schema file name under schemas/
    name: str  # topic name without the configured prefix
    partitions: int
    resource_types: tuple[str, ...]  # FHIR resource types this event may carry
    description: str
    # Holds personal health information: only the hub's own principals may read it (deploy/kafka/acls.sh).
    personal_data: bool = True
    # Written at the county data centre (readers' reports, notices), never by a member's connector.
    from_hub: bool = False

    def topic(self, settings: HubSettings) -> str:
        return settings.topic_prefix + self.name


CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec("patient", "hub.patient.v1", 6, ("Patient",), "A member registered or changed a patient."),
    TopicSpec(
        "patient_merge",
        "hub.patient-merge.v1",
        6,
        ("Patient",),
        "A member merged two of its records (HL7 A40): the survivor with a `replaces` link.",
    ),
    TopicSpec("encounter", "hub.encounter.v1", 6, ("Encounter",), "Outpatient visits and inpatient stays."),
    TopicSpec("prescription", "hub.prescription.v1", 6, ("MedicationRequest",), "Prescriptions for central review."),
    TopicSpec(
        "lab_result",
        "hub.lab-result.v1",
        6,
        ("DiagnosticReport", "Observation"),
        "Lab reports with their observations (in `related`).",
    ),
    TopicSpec(
        "imaging_request",
        "hub.imaging-request.v1",
        3,
        ("ServiceRequest", "ImagingStudy"),
        "ECG and imaging studies waiting for a remote read.",
    ),
    TopicSpec(
        "diagnostic_report",
        "hub.diagnostic-report.v1",
        3,
        ("DiagnosticReport",),
        "Reads written by county readers, flowing back to the member.",
        from_hub=True,
    ),
    TopicSpec(
        "notice",
        "hub.notice.v1",
        3,
        ("Communication",),
        "Notices a member must acknowledge (critical values, 危急值), flowing back to the member.",
        from_hub=True,
    ),
    TopicSpec(
        "dispense",
        "hub.dispense.v1",
        6,
        ("MedicationDispense",),
        "Medicines a member's pharmacy handed out (HL7 RDS^O13, FHIR MedicationDispense).",
    ),
    TopicSpec(
        "allergy",
        "hub.allergy.v1",
        6,
        ("AllergyIntolerance",),
        "Allergies and intolerances a member recorded (HL7 AL1, FHIR AllergyIntolerance).",
    ),
    TopicSpec(
        "prescription_review",
        "hub.prescription-review.v1",
        3,
        ("Task",),
        "The central pharmacy's review of a prescription (pass, warn, hold, a pharmacist's decision) for the "
        "prescribing member: a Task with its DetectedIssues in `related`.",
        from_hub=True,
    ),
    TopicSpec(
        "stock",
        "hub.stock.v1",
        3,
        ("Basic",),
        "Members' drug stock: counts per batch (snapshots) and movements (receipts, dispenses, transfers, losses, "
        "expiries, adjustments) as hub stock records (FHIR Basic, see consumers/drug_supply/records.py). Keyed "
        "facility/drug, so one member's movements of one drug stay in order.",
        personal_data=False,
    ),
    TopicSpec(
        "referral",
        "hub.referral.v1",
        3,
        ("ServiceRequest", "Task"),
        "Two-way referrals between members and the county hospital, and their acceptance.",
    ),
)

DEAD_LETTER = TopicSpec("dead_letter", "hub.dead-letter.v1", 3, (), "Events no consumer could apply; reason in headers.")

# A tiny topic whose id changes when a memory-only broker restarts empty: the outbox relay watches it
# and republishes what the broker lost (see hub/outbox.py).
EPOCH = TopicSpec(
    "broker_epoch", "hub.broker-epoch", 1, (), "Marker used to notice a broker that lost its data.", personal_data=False
)



BY_EVENT_TYPE = {spec.event_type: spec for spec in (*CATALOGUE, DEAD_LETTER)}


def spec_for(event_type: str) -> TopicSpec:
    try:
        return BY_EVENT_TYPE[event_type]
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r}; known: {', '.join(BY_EVENT_TYPE)}") from None


def event_type_for_resource(resource_type: str) -> str:
    """The event type a connector publishes a top-level FHIR resource under."""
    mapping = {
        "Patient": "patient",
        "Encounter": "encounter",
        "MedicationRequest": "prescription",
        "MedicationDispense": "dispense",
        "AllergyIntolerance": "allergy",
        "DiagnosticReport": "lab_result",
        "Observation": "lab_result",
        "ServiceRequest": "imaging_request",
        "ImagingStudy": "imaging_request",
    }
    try:
        return mapping[resource_type]
    except KeyError:
        raise KeyError(f"no topic carries FHIR {resource_type} resources") from None


# A ServiceRequest with this category is a referral, not an order for a remote read.
REFERRAL_CATEGORY = ("http://snomed.info/sct", "3457005")  # Patient referral
_SERVICE_REQUEST = re.compile(r"(^|/)ServiceRequest/[^/]+(/_history/[^/]+)?$")


def _is_referral(resource: dict[str, Any]) -> bool:
    kind = resource.get("resourceType")
    if kind == "Task":
        focus = resource.get("focus")
        reference = focus.get("reference") if isinstance(focus, dict) else None
        # relative (ServiceRequest/sr1) or absolute (https://.../ServiceRequest/sr1/_history/2)
        return isinstance(reference, str) and _SERVICE_REQUEST.search(reference) is not None
    if kind != "ServiceRequest":
        return False
    concepts = [c for c in resource.get("category") or [] if isinstance(c, dict)]
    codings = [c for concept in concepts for c in concept.get("coding") or [] if isinstance(c, dict)]
    return any((c.get("system"), c.get("code")) == REFERRAL_CATEGORY for c in codings)


def event_type_for(resource: dict[str, Any]) -> str:
    """The event type a connector publishes a whole FHIR resource under: like
    `event_type_for_resource`, but referrals (and the Tasks answering them) are told apart by content."""
    if _is_referral(resource):
        return "referral"
    return event_type_for_resource(str(resource.get("resourceType")))


def all_topics() -> tuple[TopicSpec, ...]:
    return (*CATALOGUE, DEAD_LETTER, EPOCH)
