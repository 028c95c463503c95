"""One ECG study from the blob store to its outcome: problems, the hub's measurements and the
device's own. Pure of the database; never raises for bad input (the outcome says what was wrong)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from consumers.ecg.device import read_device
from consumers.ecg.leads import Problem, twelve_leads
from consumers.ecg.measure import MeasurementError, Measurements, measure
from hub.core.blobs import BlobError, BlobStore
from hub.core.ecg_waveform import EcgFormatError, parse_waveform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: str  # measured | invalid | unmeasurable
    problems: tuple[Problem, ...] = ()
    measurements: Measurements | None = None
    device: dict[str, Any] | None = None
    sampling_frequency: float | None = None
    derived: tuple[str, ...] = field(default_factory=tuple)


def analyse(blobs: BlobStore, waveform_ref: str | None, dicom_ref: str | None) -> Outcome:
    device = None
    if dicom_ref:
        try:
            device = read_device(blobs.get(dicom_ref))
        except BlobError:
            device = None  # the waveform below says what is missing
    if not waveform_ref:
        return Outcome("invalid", (Problem(
            "no-waveform", "error",
            "The study carries no ECG waveform: the cart sent no waveform object the hub can read.",
            "该检查没有可读取的心电波形：心电图机未发送可识别的波形对象。"),), device=device)
    try:
        waveform = parse_waveform(blobs.get(waveform_ref))
    except (BlobError, EcgFormatError) as exc:
        return Outcome("invalid", (Problem(
            "waveform-unreadable", "error", f"The waveform cannot be read: {exc}.",
            f"无法读取心电波形：{exc}。"),), device=device)
    twelve, problems = twelve_leads(waveform)
    if twelve is None:
        return Outcome("invalid", tuple(problems), device=device, sampling_frequency=waveform.sampling_frequency)
    try:
        measured = measure(twelve)
    except MeasurementError as exc:
        return Outcome("unmeasurable", (*problems, Problem(
            "unmeasurable", "error", f"No beat could be measured: {exc}. Read the tracing by eye.",
            "无法自动测量任何心搏，请人工阅读波形。")), device=device,
            sampling_frequency=twelve.sampling_frequency, derived=twelve.derived)
    except Exception as exc:  # noqa: BLE001 - a library failure must not lose the study: it is shown, unmeasured
        log.exception("ECG measurement failed")
        return Outcome("unmeasurable", (*problems, Problem(
            "unmeasurable", "error", f"The automatic measurement failed ({type(exc).__name__}). Read the tracing by eye.",
            "自动测量失败，请人工阅读波形。")), device=device,
            sampling_frequency=twelve.sampling_frequency, derived=twelve.derived)
    if measured.pr_ms is None:
        problems.append(Problem("no-p-wave", "warning", "No P wave was found: PR and the P axis are not given.",
                                "未检出 P 波：未给出 PR 间期和 P 波电轴。"))
    if measured.qt_ms is None:
        problems.append(Problem("no-t-end", "warning", "The end of the T wave was not found: QT and QTc are not given.",
                                "未检出 T 波终点：未给出 QT 和 QTc。"))
    return Outcome("measured", tuple(problems), measured, device, twelve.sampling_frequency, twelve.derived)
