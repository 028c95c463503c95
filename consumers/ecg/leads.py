"""From a device's channels to the twelve standard leads, or the reasons why not.

Devices name leads in many ways ("Lead I (Einthoven)", "II", "aVR", "AVR", "V1"); eight-channel carts
send I, II and V1–V6 only, and the other limb leads follow from Einthoven's and Goldberger's
equations (III = II − I, aVR = −(I + II)/2, aVL = I − II/2, aVF = II − I/2). What cannot be measured
is reported as a `Problem` that readers see; nothing here raises on bad input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hub.core.ecg_waveform import EcgWaveform

STANDARD = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
DERIVABLE = ("III", "aVR", "aVL", "aVF")
MIN_HZ, MAX_HZ = 250.0, 2000.0  # below 250 Hz QRS onsets and notches are lost (AHA 2007 recommends ≥500)
MIN_SECONDS = 8.0  # a median beat needs several beats; standard resting ECGs are 10 s
FLAT_UV = 20.0  # a lead whose whole trace spans less than this is off or flat
MAX_GAP_FRACTION = 0.0  # any missing sample (NaN) makes a lead unusable: the device lost it

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """Something wrong with a waveform, in words a reader understands (and a code for programs)."""

    code: str  # missing-leads, sampling-rate, too-short, missing-samples, flat-leads, unequal-leads, ...
    severity: Severity  # error: no measurements; warning: measured, with this caveat
    en: str
    zh: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "en": self.en, "zh": self.zh}


@dataclass(frozen=True)
class TwelveLeads:
    sampling_frequency: float
    leads: dict[str, np.ndarray]  # standard label -> microvolts, all the same length
    derived: tuple[str, ...]  # leads computed from I and II


def standard_label(label: str) -> str | None:
    """The standard name of a device's lead label, or None for other channels (pacing, respiration)."""
    text = re.sub(r"\(.*?\)", "", label).strip()
    text = re.sub(r"^(lead|导联)\s*", "", text, flags=re.IGNORECASE).strip()
    for name in STANDARD:
        if text.casefold() == name.casefold():
            return name
    return None


def _derive(leads: dict[str, np.ndarray]) -> tuple[str, ...]:
    one, two = leads["I"], leads["II"]
    formulas = {"III": two - one, "aVR": -(one + two) / 2, "aVL": one - two / 2, "aVF": two - one / 2}
    made = tuple(name for name in DERIVABLE if name not in leads)
    for name in made:
        leads[name] = formulas[name]
    return made


def twelve_leads(waveform: EcgWaveform) -> tuple[TwelveLeads | None, list[Problem]]:
    """The twelve standard leads, or None with the problems that prevent measuring them."""
    problems: list[Problem] = []
    fs = waveform.sampling_frequency
    if not (MIN_HZ <= fs <= MAX_HZ):
        problems.append(Problem(
            "sampling-rate", "error",
            f"The waveform is sampled at {fs:g} Hz; automatic measurements need 250 to 2000 Hz. "
            "Set the cart to 500 Hz or more and send the ECG again.",
            f"波形采样率为 {fs:g} Hz；自动测量需要 250–2000 Hz。请将心电图机设为 500 Hz 及以上后重新发送。"))
    found: dict[str, np.ndarray] = {}
    for lead in waveform.leads:
        name = standard_label(lead.label)
        if name is not None and name not in found:
            found[name] = np.asarray(lead.samples, dtype=float)
    lengths = {len(v) for v in found.values()}
    if len(lengths) > 1:
        problems.append(Problem(
            "unequal-leads", "error",
            f"The leads have different lengths ({min(lengths)} to {max(lengths)} samples); the recording is damaged.",
            f"各导联长度不一（{min(lengths)}–{max(lengths)} 个采样点），记录已损坏。"))
    derived: tuple[str, ...] = ()
    if "I" in found and "II" in found and len(lengths) == 1:
        derived = _derive(found)
    missing = [name for name in STANDARD if name not in found]
    if missing:
        hint = "" if "I" in found and "II" in found else " (III, aVR, aVL and aVF can be derived only when I and II are present)"
        problems.append(Problem(
            "missing-leads", "error",
            f"Leads missing: {', '.join(missing)}{hint}. A 12-lead ECG needs I, II and V1–V6.",
            f"缺少导联：{'、'.join(missing)}。十二导联心电图至少需要 I、II 和 V1–V6。"))
    count = lengths.pop() if len(lengths) == 1 else 0
    seconds = count / fs if fs > 0 else 0.0
    if count and seconds < MIN_SECONDS:
        problems.append(Problem(
            "too-short", "error",
            f"The recording is {seconds:.1f} s long; automatic measurements need at least {MIN_SECONDS:g} s (10 s is standard).",
            f"记录时长 {seconds:.1f} 秒；自动测量至少需要 {MIN_SECONDS:g} 秒（标准为 10 秒）。"))
    if count == 0 and not missing:
        problems.append(Problem("empty", "error", "The leads hold no samples.", "导联中没有采样数据。"))
    gaps = [name for name in STANDARD if name in found and name not in derived and not np.isfinite(found[name]).all()]
    if gaps:
        problems.append(Problem(
            "missing-samples", "error",
            f"Samples are missing (NaN or empty) in lead {', '.join(gaps)}; the device lost part of the recording.",
            f"导联 {'、'.join(gaps)} 有缺失的采样点，设备丢失了部分记录。"))
    flat = [name for name in STANDARD if name in found and name not in gaps and count
            and float(np.ptp(found[name])) < FLAT_UV]
    if flat:
        severe = len(flat) > 3 or "I" in flat or "II" in flat
        problems.append(Problem(
            "flat-leads", "error" if severe else "warning",
            f"Lead {', '.join(flat)} is a flat line (under {FLAT_UV:g} µV): an electrode is off or the lead is broken."
            + (" Measurements need leads I and II and most others; record the ECG again." if severe else ""),
            f"导联 {'、'.join(flat)} 为直线（低于 {FLAT_UV:g} µV）：电极脱落或导联线故障。"
            + ("测量需要 I、II 导联及大多数导联，请重新记录。" if severe else "")))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return TwelveLeads(fs, {name: found[name] for name in STANDARD}, derived), problems
