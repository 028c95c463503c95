"""ECG analysis: 12-lead ECGs validated and measured on arrival, and the ECG viewer readers use."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="ecg",
    description="12-lead ECGs: validation, automatic measurements (FHIR Observations) and the ECG-paper viewer.",
    consumer="consumers.ecg.consumer:EcgConsumer",
    models="consumers.ecg.models",
    migrations=HERE / "migrations",
    routers=("consumers.ecg.routes:router",),
    pages=(Page("/ecg/view", "ecg_view.html", "ECG", "心电图", nav=False),),
    pages_dir=HERE / "pages",
    provides={"ecg_measurements": "consumers.ecg.public:EcgQueries"},
)
