"""Critical values (危急值): notices a member must acknowledge in time, escalated when nobody does."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="critical_values",
    description="Critical lab values and readers' critical findings: notices to the member, acknowledgement "
    "clocks, escalation to a second notice and the county duty doctors, all audited.",
    consumer="consumers.critical_values.consumer:CriticalValuesConsumer",
    models="consumers.critical_values.models",
    migrations=HERE / "migrations",
    routers=("consumers.critical_values.routes:router", "consumers.critical_values.routes:fhir_router"),
    pages=(Page("/critical-values", "critical_values.html", "Critical values", "危急值"),),
    pages_dir=HERE / "pages",
    workers=("consumers.critical_values.escalation:run",),
    app_setup=("consumers.critical_values.routes:install",),
)
