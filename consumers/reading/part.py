"""Remote reading centres (远程心电/远程影像/远程病理中心): worklists of studies to read, claims with a lease,
turnaround clocks with escalation, structured reports signed by readers and published back to the
ordering member."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="reading",
    description="Remote ECG, imaging and pathology reading: worklists, claims, clocks, reports.",
    consumer="consumers.reading.consumer:ReadingConsumer",
    models="consumers.reading.models",
    migrations=HERE / "migrations",
    routers=("consumers.reading.routes:router", "consumers.reading.routes:fhir_router"),
    app_setup=("consumers.reading.routes:install",),
    pages=(Page("/reading", "reading.html", "Reading", "远程诊断"),),
    pages_dir=HERE / "pages",
    provides={"reading_facts": "consumers.reading.public:ReadingFacts"},
    workers=("consumers.reading.sweep:run_sweeper",),
)
