"""The image archive consumer: indexes each DICOM file an `imaging_request` event references.

The event's ImagingStudy names the file by its blob (`urn:hub:blob:dicom` on the instance, or on the
study for events from before instances carried it); the file itself, read from the blob store and
checked against its SHA-256, gives what the index keeps. ImagingStudies posted as FHIR without a DICOM
file, and ServiceRequests on their own, have nothing to index and are passed over.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from consumers.image_archive.header import DicomIndexError, InstanceHeader, describe, dumps
from consumers.image_archive.models import ImageInstance, ImageSeries, ImageStudy
from hub.core.blobs import FileBlobStore
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.errors import PermanentError
from hub.core.events import Event, utcnow

BLOB = "urn:hub:blob:dicom"


def _blob(element: dict[str, Any]) -> str | None:
    for extension in element.get("extension") or ():
        if isinstance(extension, dict) and extension.get("url") == BLOB and isinstance(extension.get("valueString"), str):
            return str(extension["valueString"])
    return None


def instance_blobs(study: dict[str, Any]) -> list[tuple[str, str]]:
    """(SOP instance UID, blob reference) of every instance of the study that names its file."""
    found: list[tuple[str, str]] = []
    instances = [i for s in study.get("series") or () for i in s.get("instance") or ()]
    for instance in instances:
        ref = _blob(instance)
        if ref is None and len(instances) == 1:
            ref = _blob(study)  # one file per event: the study's reference is the instance's
        if ref is not None:
            found.append((str(instance.get("uid", "")), ref))
    return found


def _patient_id(study: dict[str, Any]) -> str:
    reference = str((study.get("subject") or {}).get("reference", ""))
    if not reference.startswith("Patient/"):
        raise PermanentError("an ImagingStudy with a DICOM file must name its Patient in subject", "validate")
    return reference.removeprefix("Patient/")


class ImageArchiveConsumer(Consumer):
    name = "image_archive"
    event_types = ("imaging_request",)

    def __init__(self, settings: HubSettings | None = None) -> None:
        super().__init__(settings)
        self.blobs = FileBlobStore(self.settings.data_dir / "blobs")

    def apply(self, session: Session, delivery: Delivery) -> None:
        event = delivery.event
        if event is None:
            return
        studies = [r for r in (event.resource, *event.related) if r.get("resourceType") == "ImagingStudy"]
        for study in studies:
            for sop_uid, ref in instance_blobs(study):
                self._index(session, event, study, sop_uid, ref)

    def _index(self, session: Session, event: Event, study: dict[str, Any], sop_uid: str, ref: str) -> None:
        data = self.blobs.get(ref)  # a missing or corrupted file is a BlobError: dead-lettered with its reason
        try:
            header = describe(data)
        except DicomIndexError as exc:
            raise PermanentError(f"{ref}: {exc}", "validate") from exc
        if sop_uid and header.sop_uid != sop_uid:
            raise PermanentError(f"{ref} holds SOP instance {header.sop_uid}, but the ImagingStudy says {sop_uid}",
                                 "validate")
        facility = event.source.facility_id
        row = session.get(ImageStudy, header.study_uid)
        if row is not None and row.facility_id != facility:
            raise PermanentError(f"study {header.study_uid} was sent by {row.facility_id}; {facility} may not add "
                                 "instances to another member's study", "validate")
        if row is None:
            row = ImageStudy(study_uid=header.study_uid, facility_id=facility)
            session.add(row)
        row.patient_id, row.patient_key = _patient_id(study), event.patient_key
        row.dicom_patient_id, row.patient_name = header.dicom_patient_id, header.patient_name
        row.study_date, row.study_time = header.study_date, header.study_time
        row.accession_number, row.description = header.accession_number, header.study_description
        row.imaging_study_id = str(study.get("id", ""))[:64] or None
        row.updated_at = utcnow()
        self._series(session, header)
        self._instance(session, header, ref.removeprefix("blob:sha256/"), len(data), event.event_id)

    @staticmethod
    def _series(session: Session, header: InstanceHeader) -> None:
        series = session.get(ImageSeries, header.series_uid)
        if series is not None and series.study_uid != header.study_uid:
            raise PermanentError(f"series {header.series_uid} belongs to study {series.study_uid}, "
                                 f"not {header.study_uid}", "validate")
        if series is None:
            series = ImageSeries(series_uid=header.series_uid, study_uid=header.study_uid)
            session.add(series)
        series.modality, series.series_number = header.modality, header.series_number
        series.description = header.series_description

    @staticmethod
    def _instance(session: Session, header: InstanceHeader, sha256: str, size: int, event_id: str) -> None:
        row = session.get(ImageInstance, header.sop_uid)
        if row is not None and row.series_uid != header.series_uid:
            raise PermanentError(f"instance {header.sop_uid} belongs to series {row.series_uid}, "
                                 f"not {header.series_uid}", "validate")
        if row is None:
            row = ImageInstance(sop_uid=header.sop_uid)
            session.add(row)
        row.series_uid, row.study_uid, row.sop_class_uid = header.series_uid, header.study_uid, header.sop_class_uid
        row.instance_number, row.transfer_syntax, row.frames = header.instance_number, header.transfer_syntax, \
            header.frames
        row.rows, row.columns, row.photometric = header.rows, header.columns, header.photometric
        row.row_spacing_mm, row.column_spacing_mm = header.row_spacing_mm, header.column_spacing_mm
        row.window_center, row.window_width = header.window_center, header.window_width
        row.blob_sha256, row.blob_size = sha256, size  # the file sent last is the instance
        row.dicom_json, row.event_id, row.indexed_at = dumps(header.dicom_json), event_id, utcnow()
