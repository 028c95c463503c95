"""The shared health record: every member's resources per community patient, the master patient
index, and recognition of other members' results."""

from pathlib import Path

from hub.core.parts import Page, Part
from hub.core.services import SHARED_RECORD

HERE = Path(__file__).resolve().parent

PART = Part(
    name="record_store",
    description="The shared record, the master patient index and mutual recognition of results.",
    consumer="consumers.record_store.consumer:RecordStoreConsumer",
    models="consumers.record_store.models",
    migrations=HERE / "migrations",
    # $match before the generic FHIR routes is not needed: the app puts literal paths first. History and
    # export come before fhir_read so that, among routes with as many parameters, theirs match first.
    routers=("consumers.record_store.routes.mpi:router", "consumers.record_store.routes.fhir_history:router",
             "consumers.record_store.routes.bulk_export:router", "consumers.record_store.routes.fhir_read:router",
             "consumers.record_store.routes.recognition:router"),
    app_setup=("consumers.record_store.routes.setup:install",),
    pages=(Page("/patient", "patient.html", "Patient", "患者记录"),
           Page("/mpi", "mpi.html", "Patient index", "患者主索引")),
    pages_dir=HERE / "pages",
    cli=("mpi", "consumers.record_store.cli:app"),
    workers=("consumers.record_store.rematch:run_rematcher", "consumers.record_store.bulk_export:run_exporter"),
    provides={SHARED_RECORD: "consumers.record_store.public:RecordStoreQueries",
              "result_recognition": "consumers.record_store.public:ResultRecognition"},
)
