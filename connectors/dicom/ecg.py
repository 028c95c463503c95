"""12-lead ECG waveforms out of DICOM, into a compact JSON a reader's page can draw."""

from __future__ import annotations

import json
from typing import Any

from pydicom.dataset import Dataset

from hub.core.blobs import BlobRef, BlobStore
from hub.core.ecg_waveform import CONTENT_TYPE  # the format is shared with the ECG consumer

__all__ = ["CONTENT_TYPE", "ECG_SOP_CLASSES", "extract", "is_ecg", "load_ecg", "store"]

ECG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG",
}


def is_ecg(ds: Dataset) -> bool:
    return str(ds.get("SOPClassUID", "")) in ECG_SOP_CLASSES or ds.get("Modality") == "ECG"


def extract(ds: Dataset) -> dict[str, Any]:
    """Leads with labels, sampling frequency and samples in microvolts (sensitivity applied)."""
    if "WaveformSequence" not in ds or not ds.WaveformSequence:
        raise ValueError("the ECG object has no WaveformSequence")
    group = ds.WaveformSequence[0]
    samples = ds.waveform_array(0)  # pydicom applies channel sensitivity and baseline
    leads = []
    for index, channel in enumerate(group.ChannelDefinitionSequence):
        source = channel.ChannelSourceSequence[0] if "ChannelSourceSequence" in channel else None
        label = str(source.CodeMeaning) if source is not None and "CodeMeaning" in source else f"channel {index + 1}"
        units = channel.ChannelSensitivityUnitsSequence[0].CodeValue if "ChannelSensitivityUnitsSequence" in channel else ""
        factor = 1000.0 if units == "mV" else 1.0
        leads.append({"label": label.replace("Lead ", ""), "samples": [round(float(v) * factor) for v in samples[:, index]]})
    return {
        "sampling_frequency": float(group.SamplingFrequency),
        "units": "uV",
        "sample_count": int(group.NumberOfWaveformSamples),
        "leads": leads,
    }


def store(ds: Dataset, blobs: BlobStore) -> BlobRef:
    return blobs.put(json.dumps(extract(ds), separators=(",", ":")).encode(), CONTENT_TYPE)


def load_ecg(blobs: BlobStore, ref: BlobRef | str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(blobs.get(ref))
    return data
