"""ECG test material: DICOM bytes from the demo's model, events through the real DICOM door."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from connectors.dicom.ingest import ingest_dicom
from consumers.ecg.consumer import EcgConsumer
from hub.core.blobs import FileBlobStore
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event
from hub.tools.demo.ecgs import EcgSpec, Subject, ecg_dataset, simulate

WHEN = datetime(2026, 11, 20, 9, 30)


def dicom_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ecg_file(spec: EcgSpec | None = None, patient: str = "1", leads: dict[str, np.ndarray] | None = None,
             when: datetime = WHEN, device: bool = True) -> bytes:
    spec = spec or EcgSpec()
    return dicom_bytes(ecg_dataset(spec, Subject(patient, "王^秀英", "F", "19900307"), when,
                                   leads=leads, device_measurements=device))


def ecg_event(data_dir: Path, data: bytes, facility: str = "th01", name: str = "ecg.dcm") -> Event:
    result = ingest_dicom(data, name, facility, FileBlobStore(data_dir / "blobs"))
    assert not result.rejected, result.rejected
    return result.events[0]


def apply(db: Database, settings: HubSettings, *events: Event) -> None:
    consumer = EcgConsumer(settings)
    with db.transaction() as session:
        consumer.apply_batch(session, [Delivery("t", 0, i, None, None, (), 0, event) for i, event in enumerate(events)])


def leads_of(spec: EcgSpec) -> dict[str, np.ndarray]:
    return simulate(spec)
