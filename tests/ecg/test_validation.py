"""Bad waveforms get clear, stored problems (never a crash, never a lost study); eight-lead carts
are measured with the other limb leads derived."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select

from consumers.ecg.models import EcgObservation, EcgStudy
from hub.core.blobs import FileBlobStore
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.tools.demo.ecgs import EcgSpec
from tests.ecg.helpers import apply, ecg_event, ecg_file, leads_of


def _stored(db: Database) -> tuple[EcgStudy, int]:
    with db.sessions() as session:
        row = session.scalars(select(EcgStudy)).one()
        session.expunge(row)
        return row, len(session.scalars(select(EcgObservation)).all())


def _problems(row: EcgStudy) -> dict[str, dict[str, str]]:
    return {p["code"]: p for p in json.loads(row.problems)}


def test_eight_lead_cart_is_measured_with_derived_limb_leads(db: Database, settings: HubSettings) -> None:
    leads = {k: v for k, v in leads_of(EcgSpec()).items() if k not in ("III", "aVR", "aVL", "aVF")}
    apply(db, settings, ecg_event(settings.data_dir, ecg_file(leads=leads)))
    row, observations = _stored(db)
    assert row.status == "measured" and observations == 8
    assert row.derived_leads == "III,aVR,aVL,aVF"


@pytest.mark.parametrize(("change", "code", "words"), [
    (lambda leads: {k: v for k, v in leads.items() if k not in ("V3", "V4")}, "missing-leads", "Leads missing: V3, V4"),
    (lambda leads: {k: v for k, v in leads.items() if k != "II"}, "missing-leads", "derived only when I and II"),
    (lambda leads: {k: v[:1000] for k, v in leads.items()}, "too-short", "2.0 s long"),
    (lambda leads: {k: np.zeros_like(v) if k in ("I", "V2") else v for k, v in leads.items()}, "flat-leads", "Lead I, V2 is a flat line"),
])
def test_bad_waveforms_are_stored_with_their_problem(db: Database, settings: HubSettings, change, code: str,
                                                     words: str) -> None:
    apply(db, settings, ecg_event(settings.data_dir, ecg_file(leads=change(leads_of(EcgSpec())))))
    row, observations = _stored(db)
    assert row.status == "invalid" and observations == 0
    problem = _problems(row)[code]
    assert problem["severity"] == "error" and words in problem["en"] and problem["zh"]


def test_100_hz_sampling_is_refused_with_the_rate(db: Database, settings: HubSettings) -> None:
    apply(db, settings, ecg_event(settings.data_dir, ecg_file(EcgSpec(sampling_rate=100))))
    row, _ = _stored(db)
    assert row.status == "invalid"
    assert "sampled at 100 Hz" in _problems(row)["sampling-rate"]["en"]


def test_missing_samples_in_the_waveform_json(db: Database, settings: HubSettings) -> None:
    event = ecg_event(settings.data_dir, ecg_file())
    study = event.related[0]
    ext = next(e for e in study["extension"] if e["url"] == "urn:hub:blob:ecg")
    blobs = FileBlobStore(settings.data_dir / "blobs")
    waveform = json.loads(blobs.get(ext["valueString"]))
    waveform["leads"][6]["samples"][100:200] = [None] * 100  # V1 lost a stretch
    ext["valueString"] = blobs.put(json.dumps(waveform).encode(), "application/vnd.hub.ecg+json").uri
    apply(db, settings, event)
    row, _ = _stored(db)
    assert row.status == "invalid" and "lead V1" in _problems(row)["missing-samples"]["en"]


def test_a_flat_recording_with_no_beats_is_kept_as_unmeasurable(db: Database, settings: HubSettings) -> None:
    rng = np.random.default_rng(1)
    noise = {k: rng.normal(0, 40, 5000) for k in leads_of(EcgSpec())}
    apply(db, settings, ecg_event(settings.data_dir, ecg_file(leads=noise, device=False)))
    row, observations = _stored(db)
    assert row.status in ("unmeasurable", "measured")  # noise may look like beats; it must never crash
    if row.status == "unmeasurable":
        assert observations == 0 and "Read the tracing by eye" in _problems(row)["unmeasurable"]["en"]


def test_the_same_event_twice_and_a_resent_study_keep_one_row(db: Database, settings: HubSettings) -> None:
    event = ecg_event(settings.data_dir, ecg_file())
    apply(db, settings, event)
    apply(db, settings, event)
    row, observations = _stored(db)
    assert row.status == "measured" and observations == 8
