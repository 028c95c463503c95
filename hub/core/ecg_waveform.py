"""The hub's ECG waveform JSON (`application/vnd.hub.ecg+json`): written by the DICOM connector next
to the DICOM file, read by the ECG consumer and drawn by the viewer. Defined here so that the part
writing it and the part reading it share one contract without importing each other.

    {"sampling_frequency": 500.0, "units": "uV", "sample_count": 5000,
     "leads": [{"label": "I", "samples": [int, ...]}, ...]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.core.errors import PermanentError

CONTENT_TYPE = "application/vnd.hub.ecg+json"


class EcgFormatError(PermanentError, ValueError):
    """The stored waveform is not the hub's ECG JSON."""


@dataclass(frozen=True)
class Lead:
    label: str  # as the device named it ("I", "Lead II", "V1", "aVR", ...)
    samples: tuple[float, ...]  # microvolts; NaN where a value was missing


@dataclass(frozen=True)
class EcgWaveform:
    sampling_frequency: float  # Hz
    leads: tuple[Lead, ...]

    @property
    def sample_count(self) -> int:
        return max((len(lead.samples) for lead in self.leads), default=0)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")  # null or junk is a gap, reported by whoever validates the leads
    return float(value)


def parse_waveform(data: bytes) -> EcgWaveform:
    """The waveform in `data`; a clear EcgFormatError when it is not one."""
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise EcgFormatError(f"the ECG waveform is not JSON ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("leads"), list):
        raise EcgFormatError("the ECG waveform has no list of leads")
    try:
        frequency = float(raw["sampling_frequency"])
    except (KeyError, TypeError, ValueError):
        raise EcgFormatError("the ECG waveform has no sampling frequency") from None
    scale = 1000.0 if raw.get("units") == "mV" else 1.0
    leads = []
    for index, item in enumerate(raw["leads"]):
        if not isinstance(item, dict) or not isinstance(item.get("samples"), list):
            raise EcgFormatError(f"lead {index + 1} of the ECG waveform has no samples")
        leads.append(Lead(str(item.get("label") or f"channel {index + 1}"),
                          tuple(_number(v) * scale for v in item["samples"])))
    return EcgWaveform(frequency, tuple(leads))
