"""The cart's own measurements, when its DICOM file carries them (WaveformAnnotationSequence), so a
reader sees the device's numbers beside the hub's."""

from __future__ import annotations

import io
import math
from typing import Any

import pydicom
from pydicom.dataset import Dataset

# Concept names as carts write them (Mortara, GE, Philips and the demo's carts), folded to lower case.
CONCEPTS = {
    "rr interval": "rr_ms", "pr interval": "pr_ms", "qrs duration": "qrs_ms", "qt interval": "qt_ms",
    "qtc interval": "qtc_ms", "qtc": "qtc_ms", "p axis": "p_axis", "qrs axis": "qrs_axis", "t axis": "t_axis",
    "ventricular heart rate": "heart_rate", "heart rate": "heart_rate",
}


def _number(item: Dataset) -> float | None:
    try:
        value = float(item.get("NumericValue"))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_device(data: bytes) -> dict[str, Any] | None:
    """The device's global measurements (ms, /min, degrees) from a DICOM ECG, or None if it has none."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=False)
    except Exception:  # noqa: BLE001 - the connector already read it; a second failure only loses the extra
        return None
    found: dict[str, Any] = {}
    for item in ds.get("WaveformAnnotationSequence", []):
        names = item.get("ConceptNameCodeSequence")
        if not names:
            continue
        key = CONCEPTS.get(str(names[0].get("CodeMeaning", "")).strip().casefold())
        value = _number(item)
        if key and value is not None and key not in found:
            found[key] = value
    if "heart_rate" not in found and found.get("rr_ms"):
        found["heart_rate"] = round(60000.0 / found["rr_ms"], 1)
    if found.get("pr_ms") == 0:
        found.pop("pr_ms")  # 0 means "not measured" on several carts
    if not found:
        return None
    found["manufacturer"] = str(ds.get("Manufacturer", "") or "") or None
    found["model"] = str(ds.get("ManufacturerModelName", "") or "") or None
    return found
