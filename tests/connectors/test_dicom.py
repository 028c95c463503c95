"""DICOM inbox and STOW-RS: files become remote-read requests; bad files are quarantined, not lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.dicom.connector import DicomInboxConnector
from connectors.dicom.ecg import load_ecg
from hub.core.blobs import BlobError, FileBlobStore
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.dead_letter import H_REASON
from hub.core.fhir import validate_resource
from hub.core.fhir_fields import IMAGE_ORIGIN
from hub.core.identifiers import local_mrn_system
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER
from tests.connectors.dicom_samples import WRONG_CHARSETS, ct_file, ecg_file, with_patient
from tests.waiting import wait_for

CODEC = EventCodec(FileSchemaRegistry())


class Inbox:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = HubSettings(data_dir=tmp_path)
        self.path = tmp_path / "inbox"
        config = ConnectorConfig(name="dicom", kind="dicom", facility_id="th01",
                                 options={"inbox": str(self.path), "rescan_s": 0.2, "settle_s": 0.3})
        self.connector = DicomInboxConnector(config, self.settings)
        self.outbox = Outbox(tmp_path / "dicom.db", "dicom")
        self.sink = Sink("dicom", "th01", self.outbox, CODEC, self.settings, facilities=self.connector.facilities())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.connector.serve, args=(self.stop, self.sink), daemon=True)
        self.thread.start()

    def drop(self, name: str, data: bytes) -> None:
        partial = self.path / (name + ".part")  # write, then rename: as careful senders do
        partial.write_bytes(data)
        partial.rename(self.path / name)

    def published(self) -> list:
        return [CODEC.decode(r.record.value) for r in self.outbox.pending(1000) if r.record.topic != DEAD_LETTER.name]

    def events(self) -> list:
        """The remote-read requests (each file's study)."""
        return [e for e in self.published() if e.event_type == "imaging_request"]

    def patients(self) -> list:
        return [e for e in self.published() if e.event_type == "patient"]

    def dead(self) -> list:
        return [r for r in self.outbox.pending(1000) if r.record.topic == DEAD_LETTER.name]

    def wait(self, condition, timeout_s: float = 10) -> None:
        wait_for(condition, timeout_s, interval_s=0.05)


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    running = Inbox(tmp_path)
    running.wait(lambda: running.path.exists())
    yield running
    running.stop.set()
    running.thread.join(5)


def test_ecg_becomes_a_read_request_with_its_waveform(inbox: Inbox) -> None:
    inbox.drop("ecg1.dcm", ecg_file(name="Wang^Xiuying=王^秀英", charset="ISO_IR 192"))
    inbox.wait(lambda: len(inbox.events()) == 1)
    event = inbox.events()[0]
    request, study = event.resource, event.related[0]
    assert event.event_type == "imaging_request" and event.patient_key == "th01/000123"
    assert request["code"]["coding"][0]["code"] == "11524-6"
    assert request["supportingInfo"] == [{"reference": f"ImagingStudy/{study['id']}"}]
    validate_resource(request)
    validate_resource(study)
    blobs = {e["url"]: e["valueString"] for e in study["extension"]}
    assert blobs["urn:hub:patient-name"] == "王秀英"
    store = FileBlobStore(inbox.settings.data_dir / "blobs")
    assert store.get(blobs["urn:hub:blob:dicom"]) == (inbox.path / "done" / "ecg1.dcm").read_bytes()
    waveform = load_ecg(store, blobs["urn:hub:blob:ecg"])
    assert [lead["label"] for lead in waveform["leads"]][:3] == ["I", "II", "III"]
    assert len(waveform["leads"]) == 12 and all(len(lead["samples"]) == 500 for lead in waveform["leads"])
    assert waveform["sampling_frequency"] == 500.0


def test_gb18030_ct_is_urgent_and_the_same_file_twice_is_one_event(inbox: Inbox) -> None:
    data = ct_file(name="欧阳^娜娜", charset="GB18030", description="头颅CT 急诊")
    inbox.drop("ct1.dcm", data)
    inbox.wait(lambda: len(inbox.events()) == 1)
    inbox.drop("ct1-again.dcm", data)
    inbox.wait(lambda: (inbox.path / "done" / "ct1-again.dcm").exists())
    (event,) = inbox.events()
    assert event.resource["priority"] == "stat"
    study = event.related[0]
    assert {"url": "urn:hub:patient-name", "valueString": "欧阳娜娜"} in study["extension"]
    assert study["modality"][0]["code"] == "CT"


@pytest.mark.parametrize("name, data, reason", [
    ("empty.dcm", b"", "empty"),
    ("notes.txt", "这不是DICOM文件".encode(), "not a DICOM file"),
    ("truncated.dcm", ct_file()[:300], "has no"),
])
def test_bad_files_are_quarantined_with_a_reason(inbox: Inbox, name: str, data: bytes, reason: str) -> None:
    inbox.drop(name, data)
    quarantined = inbox.settings.data_dir / "quarantine" / "dicom" / name
    inbox.wait(lambda: quarantined.exists() and quarantined.with_name(name + ".reason.txt").exists())
    assert reason in quarantined.with_name(name + ".reason.txt").read_text(encoding="utf-8")
    assert quarantined.read_bytes() == data  # nothing lost
    (dead,) = inbox.dead()
    assert reason in dict(dead.record.headers)[H_REASON].decode()
    assert inbox.events() == []


def test_a_file_still_growing_is_not_read(inbox: Inbox) -> None:
    data = ecg_file()
    target = inbox.path / "slow.dcm"
    with target.open("wb") as handle:
        handle.write(data[:100])
        handle.flush()
        time.sleep(0.2)
        handle.write(data[100:])
    inbox.wait(lambda: len(inbox.events()) == 1)
    assert inbox.dead() == []


def test_counts_add_up(inbox: Inbox) -> None:
    files = {f"ok{i}.dcm": ecg_file(patient_id=f"P{i}") for i in range(4)} | {"bad.dcm": b"garbage"}
    for name, data in files.items():
        inbox.drop(name, data)
    inbox.wait(lambda: len(inbox.events()) + len(inbox.dead()) == len(files))
    assert len(inbox.events()) == 4 and len(inbox.dead()) == 1


def test_blob_corruption_is_detected(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    ref = store.put(b"ecg bytes", "application/dicom")
    assert store.put(b"ecg bytes", "application/dicom") == ref
    store.path(ref).write_bytes(b"tampered")
    with pytest.raises(BlobError, match="corrupted"):
        store.get(ref)
    with pytest.raises(BlobError, match="not a blob reference"):
        store.get("blob:sha256/xyz")


@pytest.mark.parametrize("case, make, reason", WRONG_CHARSETS, ids=[c[0] for c in WRONG_CHARSETS])
def test_a_wrong_or_unknown_character_set_is_quarantined(inbox: Inbox, case: str, make, reason: str) -> None:
    name = f"{case}.dcm"
    data = make()
    inbox.drop(name, data)
    quarantined = inbox.settings.data_dir / "quarantine" / "dicom" / name
    inbox.wait(lambda: quarantined.with_name(name + ".reason.txt").exists())
    assert reason in quarantined.with_name(name + ".reason.txt").read_text(encoding="utf-8")
    assert "(0008,0005)" in quarantined.with_name(name + ".reason.txt").read_text(encoding="utf-8")
    assert quarantined.read_bytes() == data
    assert inbox.events() == []


def test_every_study_brings_its_patient_from_the_patient_module(inbox: Inbox) -> None:
    inbox.drop("ecg2.dcm", ecg_file(patient_id="000777", name="Wang^Xiuying=王^秀英", charset="ISO_IR 192"))
    inbox.drop("ct2.dcm", ct_file(patient_id="000888", name="欧阳^娜娜", charset="GB18030"))
    inbox.wait(lambda: len(inbox.patients()) == 2)
    by_id = {e.resource["id"]: e for e in inbox.patients()}
    ecg_patient = by_id["th01-pat-000777"]
    study = next(e for e in inbox.events() if e.patient_key == "th01/000777").related[0]
    assert study["subject"] == {"reference": "Patient/th01-pat-000777"}  # the record the study names now exists
    assert ecg_patient.patient_key == "th01/000777"
    resource = ecg_patient.resource
    validate_resource(resource)
    assert [n["text"] for n in resource["name"]] == ["王秀英", "Xiuying Wang"]
    assert resource["name"][0]["family"] == "王" and resource["name"][0]["given"] == ["秀英"]
    assert (resource["gender"], resource["birthDate"]) == ("female", "1992-06-10")
    assert resource["identifier"][0] == {"system": local_mrn_system("th01"), "value": "000777"}
    assert IMAGE_ORIGIN in resource["meta"]["tag"]
    ct_patient = by_id["th01-pat-000888"].resource
    assert ct_patient["name"] == [{"text": "欧阳娜娜", "family": "欧阳", "given": ["娜娜"]}]  # GB18030 decoded


def test_bad_patient_values_are_left_out_and_the_study_kept(inbox: Inbox) -> None:
    inbox.drop("ct3.dcm", with_patient(ct_file(patient_id="000999", name="李^四", charset="GB18030"),
                                       PatientBirthDate="19620352", PatientSex="X", IssuerOfPatientID="HIS-A"))
    inbox.wait(lambda: len(inbox.patients()) == 1 and len(inbox.events()) == 1)
    resource = inbox.patients()[0].resource
    validate_resource(resource)
    assert "birthDate" not in resource and "gender" not in resource
    assert resource["identifier"][0]["assigner"] == {"display": "HIS-A"}


def test_a_gb2312_name_with_iso_2022_escapes_is_read_as_written(tmp_path: Path) -> None:
    """PS3.5 Annex J.3: `ISO 2022 IR 6\\ISO 2022 IR 58`, GB2312 announced by ESC $ ) A. pydicom alone reads
    王^秀英 as "\\x1b$)A王^\\x1b$)A秀英"; the file was quarantined for its declaration before."""
    from connectors.dicom.ingest import ingest_dicom
    from tests.connectors.dicom_samples import iso2022_gb2312_file

    data = iso2022_gb2312_file()
    result = ingest_dicom(data, "j3.dcm", "th01", FileBlobStore(tmp_path))
    assert result.rejected == []
    patient = next(e for e in result.events if e.event_type == "patient").resource
    assert patient["name"][0]["text"] == "王秀英"
    assert (patient["name"][0]["family"], patient["name"][0]["given"]) == ("王", ["秀英"])
    study = next(e for e in result.events if e.event_type == "imaging_request").related[0]
    blob = next(x["valueString"] for x in study["extension"] if x["url"] == "urn:hub:blob:dicom")
    assert FileBlobStore(tmp_path).get(blob) == data  # the file as the modality wrote it, escapes and all
