"""The archive consumer on its own: what it indexes, what it passes over, what it refuses and why."""

from __future__ import annotations

import copy
import io
from dataclasses import replace

import pydicom
import pytest
from sqlalchemy import func, select

from connectors.dicom.ingest import ingest_dicom
from consumers.image_archive.consumer import ImageArchiveConsumer, instance_blobs
from consumers.image_archive.models import ImageInstance, ImageSeries, ImageStudy
from hub.core.blobs import FileBlobStore
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.errors import PermanentError
from hub.core.events import Event
from hub.core.fhir import validate_resource
from tests.connectors.dicom_samples import ecg_file
from tests.image_archive.samples import ct_series


def _events(settings: HubSettings, files: list[bytes], facility: str = "th01") -> list[Event]:
    blobs = FileBlobStore(settings.data_dir / "blobs")
    return [ingest_dicom(f, f"f{i}.dcm", facility, blobs).events[0] for i, f in enumerate(files)]


def _apply(db: Database, settings: HubSettings, events: list[Event]) -> None:
    with db.transaction() as session:
        ImageArchiveConsumer(settings).apply_batch(
            session, [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)])


def _count(db: Database, model: type) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_each_instance_carries_its_file_and_a_study_is_gathered_from_its_files(db: Database,
                                                                              settings: HubSettings) -> None:
    files = ct_series(3)
    events = _events(settings, files)
    study = events[0].related[0]
    validate_resource(study)  # the connector's ImagingStudy with the instance extension is valid R4
    [(uid, ref)] = instance_blobs(study)
    assert uid == pydicom.dcmread(io.BytesIO(files[0])).SOPInstanceUID and ref == study["extension"][0]["valueString"]
    assert study["series"][0]["number"] == 2 and study["series"][0]["instance"][0]["number"] == 1
    _apply(db, settings, events)
    _apply(db, settings, events)  # applied again (a replay): nothing doubles
    assert (_count(db, ImageStudy), _count(db, ImageSeries), _count(db, ImageInstance)) == (1, 1, 3)
    with db.sessions() as session:
        row = session.scalars(select(ImageInstance).where(ImageInstance.instance_number == 2)).one()
        assert (row.rows, row.columns, row.frames, row.photometric) == (16, 16, 1, "MONOCHROME2")
        assert (row.row_spacing_mm, row.column_spacing_mm, row.window_center, row.window_width) == (0.5, 0.8, 40, 400)
        assert FileBlobStore(settings.data_dir / "blobs").get(row.blob_sha256) == files[1]
        stored = session.scalars(select(ImageStudy)).one()
        assert (stored.patient_id, stored.patient_key, stored.dicom_patient_id) == ("th01-pat-1", "th01/1", "1")
        assert stored.accession_number == "ACC-1" and stored.study_date == "20261123"


def test_an_event_from_before_instances_carried_their_file_is_indexed(db: Database, settings: HubSettings) -> None:
    [event] = _events(settings, ct_series(1))
    old = copy.deepcopy(event.related[0])
    del old["series"][0]["instance"][0]["extension"]  # as the connector published it before
    _apply(db, settings, [replace(event, related=(old,))])
    assert _count(db, ImageInstance) == 1


def test_studies_without_a_dicom_file_are_passed_over(db: Database, settings: HubSettings) -> None:
    [event] = _events(settings, ct_series(1))
    fhir_only = {"resourceType": "ImagingStudy", "id": "th01-img-x", "status": "available",
                 "subject": {"reference": "Patient/th01-pat-1"}, "series": [{"uid": "1.2.3", "modality": {
                     "code": "CT"}, "instance": [{"uid": "1.2.3.4", "sopClass": {"code": "urn:oid:1.2"}}, {
                         "uid": "1.2.3.5", "sopClass": {"code": "urn:oid:1.2"}}]}]}
    _apply(db, settings, [replace(event, related=(fhir_only,))])
    assert _count(db, ImageInstance) == 0
    [ecg] = _events(settings, [ecg_file()])
    _apply(db, settings, [ecg])  # an ECG is indexed (QIDO finds it) with no frames to render
    with db.sessions() as session:
        assert session.scalars(select(ImageInstance.frames)).one() == 0


def test_what_cannot_be_indexed_is_refused_with_its_reason(db: Database, settings: HubSettings) -> None:
    [event] = _events(settings, ct_series(1))
    consumer = ImageArchiveConsumer(settings)
    study = copy.deepcopy(event.related[0])
    study["series"][0]["instance"][0]["extension"][0]["valueString"] = "blob:sha256/" + "0" * 64
    with pytest.raises(PermanentError, match="is not in the store"), db.transaction() as session:
        consumer.apply(session, Delivery("t", 0, 0, None, None, (), 0, replace(event, related=(study,))))
    wrong = copy.deepcopy(event.related[0])
    wrong["series"][0]["instance"][0]["uid"] = "1.2.3.999"
    with pytest.raises(PermanentError, match="but the ImagingStudy says 1.2.3.999"), db.transaction() as session:
        consumer.apply(session, Delivery("t", 0, 0, None, None, (), 0, replace(event, related=(wrong,))))
    not_dicom = FileBlobStore(settings.data_dir / "blobs").put(b"not a DICOM file", "application/dicom")
    broken = copy.deepcopy(event.related[0])
    broken["series"][0]["instance"][0]["extension"][0]["valueString"] = not_dicom.uri
    with pytest.raises(PermanentError, match="cannot be read"), db.transaction() as session:
        consumer.apply(session, Delivery("t", 0, 0, None, None, (), 0, replace(event, related=(broken,))))
    # A study UID already sent by one member cannot be extended by another.
    _apply(db, settings, [event])
    ds = pydicom.dcmread(io.BytesIO(FileBlobStore(settings.data_dir / "blobs").get(
        event.related[0]["extension"][0]["valueString"])))
    other = ct_series(1, study_uid=ds.StudyInstanceUID)[0]
    [intruder] = _events(settings, [other], facility="th02")
    with pytest.raises(PermanentError, match="was sent by th01; th02 may not add"), db.transaction() as session:
        consumer.apply(session, Delivery("t", 0, 0, None, None, (), 0, intruder))
