"""The probe: notes one line per patient event it reads, and shows them on a page."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="probe",
    description="Test-only: proves a consumer with tables, routes and a page is one folder and one line.",
    consumer="tests.house.probe_part.consumer:ProbeConsumer",
    models="tests.house.probe_part.models",
    migrations=HERE / "migrations",
    routers=("tests.house.probe_part.routes:router",),
    pages=(Page("/probe", "probe.html", "Probe", "探针"),),
    pages_dir=HERE / "pages",
)
