"""集采: the agreed-volume file is checked with clear errors; use against it, the share among equivalents and
prescriptions written for a non-集采 drug while a 集采 equivalent existed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from consumers.drug_supply.vbp import DEFAULT_FILE, AgreedVolumes, VbpFileError, figures, load_volumes
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event, Source
from hub.core.terminology import community_terminology
from tests.drug_supply.factories import (
    AMLODIPINE,
    NOW,
    apply,
    at,
    bound_consumer,
    stock_event,
    vbp_terminology,
)


def test_the_shipped_file_loads() -> None:
    volumes = load_volumes(DEFAULT_FILE, community_terminology())
    assert volumes.volumes[("th01", "D0006")] == 24000


@pytest.mark.parametrize("text, message", [
    ("year: 2026\nvolumes: {th01: {D9999: 10}}\n", "volumes.th01.D9999: not a drug of the community catalogue"),
    ("year: 2026\nvolumes: {th01: {D0006: -3}}\n", "volumes.th01.D0006: the volume must be a whole number"),
    ("year: 2026\nvolumes: {'th 01': {D0006: 3}}\n", "'th 01' is not a facility id"),
    ("year: soon\nvolumes: {}\n", "year must be a year"),
    ("volumes: [\n", "is not valid YAML"),
])
def test_a_bad_volume_file_names_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "volumes.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(VbpFileError, match=message):
        load_volumes(path, community_terminology())


def prescription(facility: str, rx: str, code: str) -> Event:
    resource = {"resourceType": "MedicationRequest", "id": f"{facility}-rx-{rx}", "status": "active", "intent": "order",
                "medicationCodeableConcept": {"coding": [{"system": "urn:hub:code:community-drug", "code": code}]},
                "subject": {"reference": f"Patient/{facility}-pat-1"}, "authoredOn": "2026-11-20T10:00:00+08:00"}
    return Event(f"rx-{facility}-{rx}", "prescription", Source(facility, "test", rx), NOW, NOW, f"{facility}/1", resource)


def test_use_against_agreed_volume_share_among_equivalents_and_missed_prescriptions(settings: HubSettings,
                                                                                    db: Database) -> None:
    terminology = vbp_terminology()
    consumer = bound_consumer(settings, db, terminology=terminology)
    apply(consumer, db, stock_event("th01", "d1", "dispense", 300, at(3)),  # 集采 amlodipine
          stock_event("th01", "d2", "dispense", 100, at(2), drug="D0906"),  # the non-集采 one, same ATC
          prescription("th01", "1", "D0906"), prescription("th01", "2", AMLODIPINE), prescription("th01", "3", "D0011"))
    with db.transaction() as session:  # a later version of a prescription line is not counted again
        consumer.apply_batch(session, [Delivery("t", 0, 9, None, None, (), 0, prescription("th01", "1", "D0906"))])
    volumes = AgreedVolumes(Path("x"), 2026, {("th01", AMLODIPINE): 12000}, ())
    with db.reading() as session:
        found = figures(session, volumes, terminology, datetime(2026, 11, 23, 12, tzinfo=UTC))
    [use] = found["use"]
    assert (use["dispensed"], use["share"]) == (300, 0.025)
    assert found["equivalents"] == [{"atc": "C08CA01", "vbp": 300, "all": 400, "share": 0.75}]
    assert found["missed"] == [{"facility": "th01", "prescriptions": 1, "of": 3}]
