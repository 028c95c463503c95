"""The central pharmacy (中心药房): the county-wide medication list, prescription review before dispensing
(集中审方), the pharmacists' queue and decisions, the mapping queue of members' local drug codes."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="pharmacy",
    description="Central pharmacy: county-wide medication lists, rule-based prescription review with a "
    "pharmacists' queue and decisions sent back to the prescribing member, the local drug code mapping queue.",
    consumer="consumers.pharmacy.consumer:PharmacyConsumer",
    models="consumers.pharmacy.models",
    migrations=HERE / "migrations",
    routers=("consumers.pharmacy.routes:router", "consumers.pharmacy.routes:fhir_router"),
    pages=(Page("/pharmacy", "pharmacy.html", "Pharmacy", "中心药房"),),
    pages_dir=HERE / "pages",
    status="consumers.pharmacy.status:pharmacy_status",
)
