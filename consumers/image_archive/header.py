"""What the index keeps of one DICOM file: its UIDs, patient and study attributes, what a viewer
needs to draw it (frames, size, pixel spacing, default window) and its header as DICOM JSON.

Pure functions over bytes, so they can be tested on their own.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from hub.core.errors import PermanentError

UTF8 = "ISO_IR 192"
BULK_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
BULK_LIMIT = 1024  # binary values over this are bulk data: left out of the metadata
# Pixel and waveform data: never part of the metadata (retrieved as frames or the instance itself).
BULK_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009, 0x54000100, 0x54001010}


class DicomIndexError(PermanentError, ValueError):
    pass


@dataclass(frozen=True)
class InstanceHeader:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    transfer_syntax: str
    modality: str
    dicom_patient_id: str
    patient_name: str | None
    study_date: str | None
    study_time: str | None
    accession_number: str | None
    study_description: str | None
    series_number: int | None
    series_description: str | None
    instance_number: int | None
    frames: int
    rows: int | None
    columns: int | None
    photometric: str | None
    row_spacing_mm: float | None
    column_spacing_mm: float | None
    window_center: float | None
    window_width: float | None
    dicom_json: dict[str, Any]


def read_header(data: bytes) -> Dataset:
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=False)
        ds.decode()
    except Exception as exc:  # noqa: BLE001 - a broken file raises many kinds of errors
        raise DicomIndexError(f"the stored DICOM file cannot be read ({type(exc).__name__}: {exc})") from exc
    return ds


def _text(ds: Dataset, keyword: str, limit: int) -> str | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise DicomIndexError(f"{keyword} is {len(text)} characters, over the {limit} the index keeps")
    return text or None


def _integer(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def first_number(value: Any) -> float | None:
    """The first value of a DS/IS that may hold several (WindowCenter often does)."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None and str(value).strip() != "" else None
    except (TypeError, ValueError):
        return None


def functional(ds: Dataset, sequence: str, keyword: str, frame: int = 0) -> Any:
    """An attribute of an enhanced multi-frame object: in the frame's own functional groups, else
    the shared ones; None when the object has neither (a classic object keeps it at the top)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if not items or index >= len(items):
            continue
        inner = items[index].get(sequence)
        if inner and keyword in inner[0]:
            return inner[0].get(keyword)
    return None


def pixel_spacing(ds: Dataset) -> tuple[float | None, float | None]:
    """(between rows, between columns) in mm: PixelSpacing, from the functional groups of an enhanced
    object, else ImagerPixelSpacing (projection radiographs: at the detector)."""
    value = ds.get("PixelSpacing") or functional(ds, "PixelMeasuresSequence", "PixelSpacing") \
        or ds.get("ImagerPixelSpacing")
    if value is None or len(value) != 2:
        return None, None
    try:
        row, column = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None, None
    return (row, column) if row > 0 and column > 0 else (None, None)


def default_window(ds: Dataset, frame: int = 0) -> tuple[float | None, float | None]:
    center = ds.get("WindowCenter")
    width = ds.get("WindowWidth")
    if center is None or width is None:
        center = functional(ds, "FrameVOILUTSequence", "WindowCenter", frame)
        width = functional(ds, "FrameVOILUTSequence", "WindowWidth", frame)
    c, w = first_number(center), first_number(width)
    return (c, w) if c is not None and w is not None and w > 0 else (None, None)


def dicom_json(ds: Dataset) -> dict[str, Any]:
    """The header as DICOM JSON (PS3.18 F.2), without pixel, waveform or other bulk data; text decoded
    and declared as UTF-8, which JSON is."""
    header = Dataset()
    for element in ds:
        if element.tag in BULK_TAGS:
            continue
        if element.VR in BULK_VRS and element.value is not None and len(element.value) > BULK_LIMIT:
            continue
        header.add(element)
    header.SpecificCharacterSet = UTF8
    result: dict[str, Any] = header.to_json_dict(bulk_data_threshold=BULK_LIMIT,
                                                  bulk_data_element_handler=lambda _element: "")
    return result


def describe(data: bytes) -> InstanceHeader:
    ds = read_header(data)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "PatientID"):
        if not str(ds.get(keyword, "") or "").strip():
            raise DicomIndexError(f"the DICOM object has no {keyword}")
    meta = getattr(ds, "file_meta", None)
    transfer = str(meta.get("TransferSyntaxUID", "") if meta is not None else "") or "1.2.840.10008.1.2"
    has_pixels = "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
    frames = (_integer(ds.get("NumberOfFrames")) or 1) if has_pixels else 0
    row_mm, column_mm = pixel_spacing(ds)
    center, width = default_window(ds)
    sop_class = str(ds.get("SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else ""))
    name = ds.get("PatientName")
    return InstanceHeader(
        study_uid=_text(ds, "StudyInstanceUID", 64) or "",
        series_uid=_text(ds, "SeriesInstanceUID", 64) or "",
        sop_uid=_text(ds, "SOPInstanceUID", 64) or "",
        sop_class_uid=sop_class[:64],
        transfer_syntax=transfer,
        modality=_text(ds, "Modality", 16) or "OT",
        dicom_patient_id=_text(ds, "PatientID", 64) or "",
        patient_name=str(name)[:200] if name else None,
        study_date=_date(ds.get("StudyDate")),
        study_time=_text(ds, "StudyTime", 16),
        accession_number=_text(ds, "AccessionNumber", 64),
        study_description=(_text(ds, "StudyDescription", 1000) or "")[:200] or None,
        series_number=_integer(ds.get("SeriesNumber")),
        series_description=(_text(ds, "SeriesDescription", 1000) or "")[:200] or None,
        instance_number=_integer(ds.get("InstanceNumber")),
        frames=frames,
        rows=_integer(ds.get("Rows")) if has_pixels else None,
        columns=_integer(ds.get("Columns")) if has_pixels else None,
        photometric=_text(ds, "PhotometricInterpretation", 16) if has_pixels else None,
        row_spacing_mm=row_mm,
        column_spacing_mm=column_mm,
        window_center=center,
        window_width=width,
        dicom_json=dicom_json(ds),
    )


def _date(value: Any) -> str | None:
    text = str(value or "").strip()
    return text if len(text) == 8 and text.isdigit() else None


def dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
