"""One DICOM file in, its patient and one remote-read request out (or a rejection with its reason).

Used by the inbox connector and by STOW-RS (`POST /dicomweb/studies`).
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import pydicom
from pydicom.errors import InvalidDicomError

from connectors.dicom import ecg
from connectors.dicom.charset import DicomCharsetError, as_utf8, check_charset
from connectors.dicom.mapping import DicomMappingError, map_dataset
from connectors.dicom.patient import map_patient
from hub.core.blobs import BlobStore
from hub.core.events import Event, PollResult, Rejected, Source, deterministic_event_id


def ingest_dicom(data: bytes, name: str, facility: str, blobs: BlobStore, default_priority: str = "routine") -> PollResult:
    sha = hashlib.sha256(data).hexdigest()

    def reject(reason: str) -> PollResult:
        return PollResult(rejected=[Rejected(f"{name}: {reason}", "parse", f"{name} ({len(data)} bytes, sha256 {sha})",
                                             name, None, sha)])

    if not data:
        return reject("the file is empty")
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        check_charset(ds)  # on the bytes as read: pydicom's own decoding would only warn and garble
        as_utf8(ds)  # GB2312 with ISO 2022 escapes, which pydicom decodes with the escapes left in
        ds.decode()
    except DicomCharsetError as exc:
        return reject(str(exc))
    except InvalidDicomError:
        return reject("not a DICOM file (no DICM preamble or a broken header)")
    except Exception as exc:  # noqa: BLE001 - truncated files raise many kinds of errors
        return reject(f"the DICOM file cannot be read ({type(exc).__name__}: {exc}); is it truncated?")
    try:
        dicom_ref = blobs.put(data, "application/dicom")
        ecg_ref = ecg.store(ds, blobs) if ecg.is_ecg(ds) else None
        request, study, patient = map_dataset(ds, facility, dicom_ref, ecg_ref, default_priority)
        person = map_patient(ds, facility, patient)
    except (DicomMappingError, ValueError, AttributeError, KeyError) as exc:
        return reject(str(exc))
    now = datetime.now(UTC)
    # The study's patient (its own topic): the record the study names, from the patient module.
    known = Event(
        event_id=deterministic_event_id(facility, "dicom", f"patient:{patient}", sha),
        event_type="patient",
        source=Source(facility, "dicom", name),
        occurred_at=now,
        recorded_at=now,
        patient_key=f"{facility}/{patient}",
        resource=person,
    )
    event = Event(
        event_id=deterministic_event_id(facility, "dicom", str(ds.SOPInstanceUID), sha),
        event_type="imaging_request",
        source=Source(facility, "dicom", name),
        occurred_at=now,
        recorded_at=now,
        patient_key=f"{facility}/{patient}",
        resource=request,
        related=(study,),
    )
    return PollResult(events=[event, known])
