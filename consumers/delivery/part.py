"""Outbound delivery (结果回传): reports and critical-value notices carried back to the member they
belong to, over HL7 v2 MLLP and/or FHIR, as its connector configuration's `deliver_to` says."""

from pathlib import Path

from hub.core.parts import Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="delivery",
    description="Delivers readers' reports, critical-value notices and prescription reviews to the member's MLLP "
    "listener or FHIR endpoint.",
    consumer="consumers.delivery.consumer:DeliveryConsumer",
    models="consumers.delivery.models",
    migrations=HERE / "migrations",
    routers=("consumers.delivery.routes:router",),
    cli=("delivery", "consumers.delivery.cli:app"),
    workers=("consumers.delivery.sender:run_senders",),
    status="consumers.delivery.status:delivery_status",
)
