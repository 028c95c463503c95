"""Global 12-lead measurements the way electrocardiographs make them: heart rate, PR, QRS, QT, QTc
and the frontal P/QRS/T axes, from one median beat per lead.

1. R peaks are found with neurokit2 (`ecg_clean`, `ecg_peaks`) in the lead, of II, V5, I, V2, aVF
   and V4, whose beats come most regularly; each beat is then aligned on the peak of the spatial
   magnitude of all leads. The leads measured are high-passed at 0.5 Hz and notched at 50 Hz.
2. Beats unlike the others (ectopics, artefacts) are dropped; the median of the rest, sample by
   sample, is each lead's representative beat.
3. QRS onset and offset are global: where the spatial velocity of the eight independent leads
   (I, II, V1–V6) rises above and falls back below 4 % of its QRS peak. (neurokit2's per-lead QRS
   bounds were off by up to 100 ms on a real 12-lead recording; the spatial velocity is the usual
   multi-lead method.) P onset and T offset come from neurokit2's wavelet delineation (`ecg_delineate`,
   method "dwt") of each lead's median beat; the global value is the earliest P onset and the latest
   T offset that at least three other leads confirm within 12 ms, so a few noisy leads cannot stretch them.
4. QTc is Bazett's (QT / √RR, RR in seconds); Fridericia's (QT / ∛RR) is given beside it.
   Axes are frontal-plane angles from the net areas in leads I and aVF over each wave:
   atan2(2·aVF/√3, I), since aVF sees the heart's vector scaled by √3/2.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import neurokit2 as nk
import numpy as np
from scipy.signal import filtfilt, iirnotch

from consumers.ecg.leads import TwelveLeads
from hub.core.errors import PermanentError

INDEPENDENT = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
CONFIRM_S = 0.012  # a global onset/offset must be confirmed by three more leads within 12 ms
CONFIRMING_LEADS = 4
VELOCITY_FRACTION = 0.04
MIN_BEATS = 3
TILED_S = 4.5  # seconds of tiled median beats given to the delineator (it needs about 4)
MIN_COPIES = 5
MAINS_HZ = 50.0  # China's mains frequency
PEAK_LEADS = ("II", "V5", "I", "V2", "aVF", "V4")


class MeasurementError(PermanentError):
    """The leads are valid but no beat could be measured (no QRS found, only noise)."""


@dataclass(frozen=True)
class Measurements:
    heart_rate: float  # /min
    rr_ms: float
    pr_ms: float | None  # None when no P wave was found (atrial fibrillation, junctional rhythm)
    qrs_ms: float
    qt_ms: float | None
    qtc_bazett_ms: float | None
    qtc_fridericia_ms: float | None
    p_axis: float | None  # degrees, -180..180
    qrs_axis: float
    t_axis: float | None
    beats: int  # beats in the median
    beats_total: int

    def as_json(self) -> dict[str, float | int | None]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _filtered(signal: np.ndarray, fs: float) -> np.ndarray:
    """Baseline wander and mains hum removed without smearing the waves: ecg_clean's own mains
    filter is a 20 ms moving average, which would widen every QRS by about 20 ms."""
    highpassed = nk.signal_filter(signal, sampling_rate=int(round(fs)), lowcut=0.5, method="butterworth", order=5)
    b, a = iirnotch(MAINS_HZ, 30.0, fs)
    return np.asarray(filtfilt(b, a, highpassed), dtype=float)


def _r_peaks(clean: dict[str, np.ndarray], fs: float) -> np.ndarray:
    """R peaks from the lead whose beats come most regularly: a lead with a small QRS and a tall T
    finds T waves too (short-long-short), one with a weak QRS misses beats."""
    best, best_spread = np.array([], dtype=int), math.inf
    for name in PEAK_LEADS:
        try:
            _, info = nk.ecg_peaks(clean[name], sampling_rate=int(round(fs)))
        except Exception:  # noqa: BLE001 - the library fails in many ways on noise; try another lead
            continue
        peaks = np.asarray(info.get("ECG_R_Peaks", []), dtype=int)
        if len(peaks) < MIN_BEATS + 1:
            continue
        intervals = np.diff(peaks)
        spread = float(np.std(intervals) / np.mean(intervals))
        if spread < best_spread - 0.01:
            best, best_spread = peaks, spread
    return best


def _median_beats(clean: dict[str, np.ndarray], peaks: np.ndarray, fs: float) -> tuple[dict[str, np.ndarray], int, float, int]:
    """Each lead's median beat, the R position in it (samples), the median RR (s) and beats used."""
    magnitude = np.sqrt(sum(sig ** 2 for sig in clean.values()))
    reach = int(0.06 * fs)
    fiducials = np.array([p - reach + int(np.argmax(magnitude[max(p - reach, 0):p + reach]))
                          if p - reach >= 0 else p for p in peaks])
    rr = float(np.median(np.diff(fiducials))) / fs
    if not (0.2 <= rr <= 3.0):
        raise MeasurementError(f"the beats found are {rr * 1000:.0f} ms apart, not a heart rhythm")
    # The window stays within one RR, so the beats tiled for the delineator never overlap.
    pre, post = int(min(0.40, 0.4 * rr) * fs), int(min(0.65, 0.6 * rr) * fs)
    usable = [f for f in fiducials if f - pre >= 0 and f + post <= len(magnitude)]
    if len(usable) < MIN_BEATS:
        raise MeasurementError(f"only {len(usable)} whole beats were found; at least {MIN_BEATS} are needed")
    stacks = {name: np.stack([sig[f - pre:f + post] for f in usable]) for name, sig in clean.items()}
    # Drop beats unlike the median (ectopic beats, artefacts), judged over the independent leads.
    joined = np.concatenate([stacks[n] for n in INDEPENDENT], axis=1)
    centre = np.median(joined, axis=0)
    keep = np.array([np.corrcoef(beat, centre)[0, 1] >= 0.9 for beat in joined])
    if keep.sum() < MIN_BEATS:
        keep = np.ones(len(usable), dtype=bool)
    return {name: np.median(stack[keep], axis=0) for name, stack in stacks.items()}, pre, rr, int(keep.sum())


def _qrs_bounds(median: dict[str, np.ndarray], r: int, fs: float) -> tuple[int, int]:
    slopes = np.gradient(np.stack([median[n] for n in INDEPENDENT]), axis=1)
    velocity = np.sqrt((slopes ** 2).sum(axis=0))
    width = max(1, int(0.008 * fs))
    velocity = np.convolve(velocity, np.ones(width) / width, mode="same")
    reach = int(0.06 * fs)
    peak = r - reach + int(np.argmax(velocity[r - reach:r + reach]))
    floor = float(np.percentile(velocity, 10))
    threshold = floor + VELOCITY_FRACTION * (velocity[peak] - floor)
    onset = peak
    while onset > 0 and velocity[onset] > threshold:
        onset -= 1
    offset = peak
    while offset < len(velocity) - 1 and velocity[offset] > threshold:
        offset += 1
    # A QRS can have several lobes (an RSR'): follow later lobes that rise again within 40 ms.
    window = velocity[offset:offset + int(0.04 * fs)]
    again = np.nonzero(window > threshold)[0]
    while len(again):
        offset += int(again[-1]) + 1
        while offset < len(velocity) - 1 and velocity[offset] > threshold:
            offset += 1
        window = velocity[offset:offset + int(0.04 * fs)]
        again = np.nonzero(window > threshold)[0]
    return onset, offset


def _tiled(beat: np.ndarray, r: int, period: int, copies: int) -> tuple[np.ndarray, list[int]]:
    """The median beat repeated at its own RR, level at both ends, as the delineator expects a recording."""
    flat = beat - np.linspace(beat[0], beat[-1], len(beat))
    signal = np.zeros(period * (copies - 1) + len(flat))
    for k in range(copies):
        signal[k * period:k * period + len(flat)] += flat
    return signal, [k * period + r for k in range(copies)]


def _confirmed(values: list[int], fs: float, earliest: bool) -> int | None:
    """The earliest (or latest) value that three more leads confirm within CONFIRM_S; else the median."""
    if not values:
        return None
    ordered = sorted(values, reverse=not earliest)
    span = CONFIRM_S * fs
    for value in ordered:
        if sum(1 for other in values if abs(other - value) <= span) >= CONFIRMING_LEADS:
            return value
    return int(np.median(values))


def _wave_bounds(median: dict[str, np.ndarray], r: int, fs: float, rr: float,
                 qrs_on: int, qrs_off: int) -> tuple[int | None, int | None]:
    period = int(rr * fs)
    length = len(next(iter(median.values())))
    # The delineator segments beats only in a long enough signal; its cost grows with the copies.
    first = max(MIN_COPIES, math.ceil(TILED_S / rr) + 1)
    p_onsets: list[int] = []
    t_offsets: list[int] = []
    for beat in median.values():
        waves: dict[str, list[float]] | None = None
        for copies in (first, 2 * first):
            signal, peaks = _tiled(beat, r, period, copies)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _, waves = nk.ecg_delineate(signal, rpeaks=peaks, sampling_rate=int(round(fs)), method="dwt")
                break
            except Exception:  # noqa: BLE001 - too short for it, or not delineable: a lead that fails twice does not vote
                waves = None
        if waves is None:
            continue
        start = (copies // 2) * period
        for value in waves.get("ECG_P_Onsets", []):
            at = value - start if value == value else None  # NaN: no P wave in that beat
            if at is not None and qrs_on - int(0.40 * fs) <= at <= qrs_on - int(0.04 * fs):
                p_onsets.append(int(at))
        for value in waves.get("ECG_T_Offsets", []):
            at = value - start if value == value else None
            if at is not None and qrs_off + int(0.08 * fs) <= at < length:
                t_offsets.append(int(at))
    return _confirmed(p_onsets, fs, earliest=True), _confirmed(t_offsets, fs, earliest=False)


def _axis(median: dict[str, np.ndarray], start: int, end: int, baseline: int) -> float | None:
    if end - start < 2:
        return None
    areas = {}
    for name in ("I", "aVF"):
        beat = median[name]
        level = float(np.median(beat[max(baseline - 5, 0):baseline + 1]))
        areas[name] = float(np.sum(beat[start:end] - level))
    if abs(areas["I"]) < 1e-9 and abs(areas["aVF"]) < 1e-9:
        return None
    return math.degrees(math.atan2(2 * areas["aVF"] / math.sqrt(3), areas["I"]))


def measure(twelve: TwelveLeads) -> Measurements:
    fs = twelve.sampling_frequency
    rate = int(round(fs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detect = {name: np.asarray(nk.ecg_clean(twelve.leads[name], sampling_rate=rate, method="neurokit"), dtype=float)
                  for name in PEAK_LEADS}
        clean = {name: _filtered(sig, fs) for name, sig in twelve.leads.items()}
    peaks = _r_peaks(detect, fs)
    if len(peaks) < MIN_BEATS + 1:
        raise MeasurementError(f"only {len(peaks)} QRS complexes were found; is the patient connected?")
    median, r, rr, used = _median_beats(clean, peaks, fs)
    qrs_on, qrs_off = _qrs_bounds(median, r, fs)
    p_on, t_off = _wave_bounds(median, r, fs, rr, qrs_on, qrs_off)
    ms = 1000.0 / fs
    qt = (t_off - qrs_on) * ms if t_off is not None else None
    # The P wave's own end is not measured; its area runs from onset to 20 ms before the QRS.
    p_axis = _axis(median, p_on, qrs_on - int(0.02 * fs), p_on) if p_on is not None else None
    t_axis = _axis(median, qrs_off, t_off, qrs_on) if t_off is not None else None
    qrs_axis = _axis(median, qrs_on, qrs_off, qrs_on)
    if qrs_axis is None:
        raise MeasurementError("no QRS complex could be measured")
    return Measurements(
        heart_rate=60.0 / rr,
        rr_ms=rr * 1000.0,
        pr_ms=(qrs_on - p_on) * ms if p_on is not None else None,
        qrs_ms=(qrs_off - qrs_on) * ms,
        qt_ms=qt,
        qtc_bazett_ms=qt / math.sqrt(rr) if qt is not None else None,
        qtc_fridericia_ms=qt / rr ** (1 / 3) if qt is not None else None,
        p_axis=p_axis,
        qrs_axis=qrs_axis,
        t_axis=t_axis,
        beats=used,
        beats_total=len(peaks),
    )
