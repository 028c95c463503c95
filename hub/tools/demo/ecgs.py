"""Synthetic but realistic 12-lead ECGs with known intervals and axes, as DICOM 12-lead waveforms.

A dipole model: the heart's electrical vector traces a P loop, a QRS loop of three lobes (septal,
main, terminal) and a T loop; each lead records the vector's projection on its own direction
(Einthoven/Goldberger limb leads in the frontal plane, V1–V6 in the horizontal plane). Every wave
starts and ends exactly where its parameters say, so tests know the true PR, QRS and QT, and the
frontal axes follow from the directions. Breathing baseline wander, mains hum, noise and a little
sinus arrhythmia make it look recorded. Used by the demo county's ECG carts, the tests and the bench.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

TWELVE_LEAD_ECG = UID("1.2.840.10008.5.1.4.1.1.9.1.1")
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# SCP-ECG lead codes (MDC-compatible), as carts write them in ChannelSourceSequence.
LEAD_CODES = {"I": "5.6.3-9-1", "II": "5.6.3-9-2", "III": "5.6.3-9-61", "aVR": "5.6.3-9-62",
              "aVL": "5.6.3-9-63", "aVF": "5.6.3-9-64", "V1": "5.6.3-9-3", "V2": "5.6.3-9-4",
              "V3": "5.6.3-9-5", "V4": "5.6.3-9-6", "V5": "5.6.3-9-7", "V6": "5.6.3-9-8"}
PRECORDIAL_DEGREES = {"V1": 115.0, "V2": 95.0, "V3": 75.0, "V4": 55.0, "V5": 30.0, "V6": 5.0}
UV_PER_UNIT = 2.5


@dataclass(frozen=True)
class EcgSpec:
    heart_rate: float = 72.0  # /min
    pr_ms: float = 160.0  # P onset to QRS onset
    p_ms: float = 100.0  # P duration
    qrs_ms: float = 90.0
    qt_ms: float = 380.0  # QRS onset to T end
    p_axis: float = 55.0  # frontal degrees
    qrs_axis: float = 45.0
    t_axis: float = 40.0
    qrs_mv: float = 1.4
    seconds: float = 10.0
    sampling_rate: int = 500
    noise_uv: float = 8.0
    seed: int = 0


def _hann(t: np.ndarray, start: float, width: float) -> np.ndarray:
    inside = (t >= start) & (t <= start + width)
    out = np.zeros_like(t)
    out[inside] = np.sin(np.pi * (t[inside] - start) / width) ** 2
    return out


def _skewed(t: np.ndarray, start: float, width: float, rise: float = 0.62) -> np.ndarray:
    """A T wave: slower up than down, exactly zero outside [start, start + width]."""
    up, down = width * rise, width * (1 - rise)
    out = np.zeros_like(t)
    a = (t >= start) & (t < start + up)
    b = (t >= start + up) & (t <= start + width)
    out[a] = np.sin(np.pi / 2 * (t[a] - start) / up) ** 2
    out[b] = np.cos(np.pi / 2 * (t[b] - start - up) / down) ** 2
    return out


def _vector(frontal_deg: float, anterior: float) -> np.ndarray:
    """A unit-ish heart vector: x left, y inferior (the frontal angle), z anterior."""
    angle = math.radians(frontal_deg)
    return np.array([math.cos(angle), math.sin(angle), anterior])


def _project(vx: np.ndarray, vy: np.ndarray, vz: np.ndarray) -> dict[str, np.ndarray]:
    one = vx
    two = 0.5 * vx + math.sqrt(3) / 2 * vy
    leads = {"I": one, "II": two, "III": two - one, "aVR": -(one + two) / 2,
             "aVL": one - two / 2, "aVF": two - one / 2}
    for name, degrees in PRECORDIAL_DEGREES.items():
        angle = math.radians(degrees)
        leads[name] = 1.6 * (vx * math.cos(angle) + vz * math.sin(angle)) + 0.15 * vy
    return leads


def simulate(spec: EcgSpec) -> dict[str, np.ndarray]:
    """The twelve leads in microvolts, sampled at spec.sampling_rate for spec.seconds."""
    rng = np.random.default_rng(spec.seed)
    fs = spec.sampling_rate
    t = np.arange(int(spec.seconds * fs)) / fs
    vx, vy, vz = np.zeros_like(t), np.zeros_like(t), np.zeros_like(t)
    rr = 60.0 / spec.heart_rate
    pr, pd, qrs, qt = spec.pr_ms / 1000, spec.p_ms / 1000, spec.qrs_ms / 1000, spec.qt_ms / 1000
    t_start = qrs + 0.38 * (qt - qrs)  # the ST segment, then the T wave ending exactly at QT
    lobes = [  # (start, width) as fractions of the QRS, amplitude (mV), frontal angle, anterior part
        (0.0, 0.34, 0.18, spec.qrs_axis + 150, 0.7),
        (0.14, 0.62, 1.0, spec.qrs_axis, -0.35),
        (0.58, 0.42, 0.28, spec.qrs_axis - 150, -0.5),
    ]
    onset = pr + 0.25
    while onset + qt < t[-1]:
        parts = [(_hann(t, onset - pr, pd), 0.16, _vector(spec.p_axis, 0.15))]
        for start, width, amplitude, angle, anterior in lobes:
            parts.append((_hann(t, onset + start * qrs, width * qrs), amplitude * spec.qrs_mv, _vector(angle, anterior)))
        parts.append((_skewed(t, onset + t_start, qt - t_start), 0.32, _vector(spec.t_axis, 0.45)))
        for shape, amplitude, direction in parts:
            vx += 1000 * amplitude * direction[0] * shape
            vy += 1000 * amplitude * direction[1] * shape
            vz += 1000 * amplitude * direction[2] * shape
        onset += rr * (1 + rng.uniform(-0.02, 0.02))  # a little sinus arrhythmia
    leads = _project(vx, vy, vz)
    breathing = rng.uniform(0.15, 0.3)
    for name in LEADS:
        wander = rng.uniform(20, 60) * np.sin(2 * np.pi * breathing * t + rng.uniform(0, 2 * np.pi))
        hum = 4.0 * np.sin(2 * np.pi * 50 * t + rng.uniform(0, 2 * np.pi))
        leads[name] = leads[name] + wander + hum + rng.normal(0, spec.noise_uv, len(t))
    return leads


def expected_axes(spec: EcgSpec) -> dict[str, float]:
    """The frontal axes the model's net areas give (the QRS lobes add up to slightly off qrs_axis)."""
    qrs: np.ndarray = sum((amplitude * width * _vector(angle, 0)[:2] for _, width, amplitude, angle, _ in [
        (0.0, 0.34, 0.18, spec.qrs_axis + 150, 0.7), (0.14, 0.62, 1.0, spec.qrs_axis, -0.35),
        (0.58, 0.42, 0.28, spec.qrs_axis - 150, -0.5)]), np.zeros(2))
    return {"p": spec.p_axis, "qrs": math.degrees(math.atan2(qrs[1], qrs[0])), "t": spec.t_axis}


@dataclass(frozen=True)
class Subject:
    patient_id: str
    name: str  # family^given, as DICOM PN (ideographic group)
    sex: str = "O"
    birth_date: str = ""


def _annotation(concept: str, value: float, unit: str) -> Dataset:
    item = Dataset()
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = concept, "99HUB", concept
    item.ConceptNameCodeSequence = [name]
    units = Dataset()
    units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = unit, "UCUM", unit
    item.MeasurementUnitsCodeSequence = [units]
    item.NumericValue = f"{value:.0f}"
    item.ReferencedWaveformChannels = [1, 0]
    item.AnnotationGroupNumber = 1
    return item


def ecg_dataset(spec: EcgSpec, subject: Subject, when: datetime, description: str = "常规心电图",
                device_measurements: bool = True, leads: dict[str, np.ndarray] | None = None,
                study_uid: str | None = None) -> Dataset:
    """A DICOM 12-lead ECG (waveform) as a cart writes it; with the cart's own measurements if asked."""
    signals = leads if leads is not None else simulate(spec)
    names = [name for name in LEADS if name in signals]
    data = np.stack([np.clip(np.round(signals[n] / UV_PER_UNIT), -32768, 32767) for n in names], axis=1)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = TWELVE_LEAD_ECG
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = TWELVE_LEAD_ECG
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "ECG"
    ds.StudyDate, ds.StudyTime = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    ds.AcquisitionDateTime = when.strftime("%Y%m%d%H%M%S")
    ds.StudyDescription = description
    ds.PatientID = subject.patient_id
    ds.PatientName = "=" + subject.name  # the ideographic (Chinese) group
    ds.PatientSex = subject.sex
    ds.PatientBirthDate = subject.birth_date
    ds.Manufacturer = "County Hub demo cart"
    group = Dataset()
    group.MultiplexGroupTimeOffset = 0.0
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = len(names)
    group.NumberOfWaveformSamples = data.shape[0]
    group.SamplingFrequency = spec.sampling_rate
    group.MultiplexGroupLabel = "RHYTHM"
    channels = []
    for name in names:
        channel = Dataset()
        source = Dataset()
        source.CodeValue, source.CodingSchemeDesignator = LEAD_CODES[name], "SCPECG"
        source.CodeMeaning = f"Lead {name}"
        channel.ChannelSourceSequence = [source]
        channel.ChannelSensitivity = UV_PER_UNIT
        units = Dataset()
        units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = "uV", "UCUM", "microvolt"
        channel.ChannelSensitivityUnitsSequence = [units]
        channel.ChannelSensitivityCorrectionFactor = 1
        channel.ChannelBaseline = 0
        channel.ChannelSampleSkew = 0
        channel.WaveformBitsStored = 16
        channel.FilterLowFrequency, channel.FilterHighFrequency = 0.05, 150
        channels.append(channel)
    group.ChannelDefinitionSequence = channels
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.WaveformData = data.astype("<i2").tobytes()
    ds.WaveformSequence = [group]
    if device_measurements:
        rr = 60000.0 / spec.heart_rate
        qtc = spec.qt_ms / math.sqrt(rr / 1000)
        axes = expected_axes(spec)
        ds.WaveformAnnotationSequence = [
            _annotation("RR Interval", rr, "ms"), _annotation("PR Interval", spec.pr_ms, "ms"),
            _annotation("QRS Duration", spec.qrs_ms, "ms"), _annotation("QT Interval", spec.qt_ms, "ms"),
            _annotation("QTc Interval", qtc, "ms"), _annotation("P Axis", axes["p"], "deg"),
            _annotation("QRS Axis", axes["qrs"], "deg"), _annotation("T Axis", axes["t"], "deg"),
        ]
    return ds
