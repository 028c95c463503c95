"""The central pharmacy benchmark: prescriptions reviewed per second by the pharmacy consumer at county size.

A county of `patients` people is bulk-loaded into a fresh database (a temporary SQLite file, or a
temporary schema of HUB_DATABASE_URL's PostgreSQL): each person has a township record and a county
hospital record linked in the patient index (the record store's Patient rows and links, what its
public patient_keys_for reads), and a pharmacy history at both members: three active prescriptions,
an old stopped one, a dispense for some, an allergy for some, and an eGFR from the county lab.

Then `prescriptions` new prescriptions for random people go through the pharmacy consumer in the
consumer's normal batches (settings.consumer_batch_size), each batch in one transaction as the
consumer framework applies it: recognition, the county-wide lookup of the person's medicines,
allergies and labs, the rules, the review row, the Task event in the results outbox and the audit.
Some trip rules: an interaction across the two members, a renal dose with a low eGFR, an allergy, a
duplicate, an adult dose for a child, an overdose.
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from consumers.pharmacy.consumer import PharmacyConsumer
from consumers.pharmacy.models import (
    PharmacyAllergy,
    PharmacyLab,
    PharmacyMedication,
    PharmacyPatient,
    PharmacyReview,
)
from consumers.record_store.models import PatientLink, StoredResource
from consumers.record_store.store import community_patient_id
from hub.app import parts as registered
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.db.models import core_table
from hub.core.events import Event, Source
from hub.core.parts import PartContext
from hub.core.results import ResultOutbox
from hub.core.schema_registry import make_registry
from hub.core.serialization import EventCodec
from hub.core.terminology import ATC, COMMUNITY_DRUG, community_terminology
from hub.tools.demo.catalogues import TOWNSHIPS
from hub.tools.scratch import scratch_database

log = logging.getLogger(__name__)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
COUNTY = "cty01"
FLUSH_EVERY = 5000  # people per bulk-insert transaction


@dataclass(frozen=True)
class Line:
    """A prescription line as members write them: the community drug code, one dose and doses a day."""

    code: str
    dose: float
    unit: str
    per_day: int


# What people already take (chronic medicines) and what the new prescriptions are: among them warfarin
# (interacts with aspirin), clopidogrel (with omeprazole), metformin (renal, duplicate), amoxicillin
# (penicillin allergy, a child's dose), ibuprofen (with aspirin, renal) and rosuvastatin (a second statin).
HISTORY = (Line("D0006", 5, "mg", 1), Line("D0016", 20, "mg", 1), Line("D0011", 0.5, "g", 2),
           Line("D0015", 100, "mg", 1), Line("D0007", 150, "mg", 1), Line("D0019", 20, "mg", 1),
           Line("D0012", 2, "mg", 1))
NEW = (Line("D0126", 2.5, "mg", 1), Line("D0018", 75, "mg", 1), Line("D0011", 0.5, "g", 2),
       Line("D0001", 0.5, "g", 3), Line("D0021", 0.3, "g", 2), Line("D0017", 10, "mg", 1),
       Line("D0006", 5, "mg", 1), Line("D0191", 40, "mg", 1))
ALLERGIES = (("J01C", "青霉素类"), ("M01A", "非甾体抗炎药"), ("J01D", "头孢菌素类"))


def _members(i: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """(facility, local id) of person i's township record and county hospital record."""
    return (TOWNSHIPS[i % len(TOWNSHIPS)][0], f"{i:07d}"), (COUNTY, f"C{i:07d}")


def _patient_id(facility: str, local: str) -> str:
    return f"{facility}-pat-{local}"


def prescription_resource(rx_id: str, line: Line, facility: str, local: str, authored: datetime,
                          status: str = "active", dose_factor: float = 1.0) -> dict[str, Any]:
    """A MedicationRequest shaped as the members' connectors write it."""
    drug = community_terminology().drug(line.code)
    dose = line.dose * dose_factor
    return {
        "resourceType": "MedicationRequest", "id": rx_id, "status": status, "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": COMMUNITY_DRUG, "code": line.code, "display": drug.name}],
                                      "text": drug.name},
        "subject": {"reference": f"Patient/{_patient_id(facility, local)}"}, "authoredOn": authored.isoformat(),
        "dosageInstruction": [{"text": f"{dose:g}{line.unit} {line.per_day}次/日",
                               "timing": {"repeat": {"frequency": line.per_day, "period": 1, "periodUnit": "d"}},
                               "doseAndRate": [{"doseQuantity": {"value": dose, "unit": line.unit}}]}],
    }


def _medication_row(resource: dict[str, Any], kind: str, facility: str, local: str, line: Line,
                    when: datetime) -> dict[str, Any]:
    drug = community_terminology().drug(line.code)
    return {"id": f"{resource['resourceType']}/{resource['id']}", "kind": kind, "facility_id": facility,
            "patient_key": f"{facility}/{local}", "patient_id": _patient_id(facility, local),
            "status": resource["status"], "name": drug.name, "drug_code": drug.code, "atc": drug.atc,
            "local_system": None, "local_code": None, "dose_text": f"{line.dose:g}{line.unit} {line.per_day}次/日",
            "authored_at": when, "resource": json.dumps(resource, ensure_ascii=False), "updated_at": NOW}


def _person_rows(i: int, rng: random.Random, batch: dict[type, list[dict[str, Any]]]) -> None:
    """One person's rows: two linked member records and their pharmacy history."""
    (town, town_local), (county, county_local) = _members(i)
    community = community_patient_id(f"{town}/{town_local}")
    child = rng.random() < 0.05
    born = (NOW.date() - timedelta(days=rng.randrange(3 * 365, 12 * 365)) if child
            else date(1935, 1, 1) + timedelta(days=rng.randrange(0, 25_000)))
    sex = rng.choice(("male", "female"))
    common = {"version_id": 1, "last_updated": NOW, "occurred_at": NOW, "date": None, "code": None, "status": None,
              "source_event_id": None, "subject_id": None}
    for facility, local in ((town, town_local), (county, county_local)):
        pid, key = _patient_id(facility, local), f"{facility}/{local}"
        patient = {"resourceType": "Patient", "id": pid, "gender": sex, "birthDate": born.isoformat(),
                   "link": [{"other": {"reference": f"Patient/{community}"}, "type": "refer"}]}
        batch[StoredResource].append({**common, "resource_type": "Patient", "id": pid, "facility_id": facility,
                                      "patient_key": key, "golden": False, "content": json.dumps(patient)})
        batch[PatientLink].append({"patient_key": key, "source_patient_id": pid, "community_patient_id": community,
                                   "linked_by": "resident-id", "linked_at": NOW, "facility_id": facility,
                                   "features": None, "score": None, "rules_version": None, "pinned": False})
        batch[PharmacyPatient].append({"patient_key": key, "patient_id": pid, "birth_date": born.isoformat(),
                                       "sex": sex, "weight_kg": None, "pregnant": None, "updated_at": NOW})
    golden = {"resourceType": "Patient", "id": community, "gender": sex, "birthDate": born.isoformat()}
    batch[StoredResource].append({**common, "resource_type": "Patient", "id": community, "facility_id": None,
                                  "patient_key": None, "golden": True, "content": json.dumps(golden)})
    if child:
        return  # children have no chronic medicines, allergies or renal labs here
    lines = rng.sample(HISTORY, 4)  # three active (one from the township, two from the county), one stopped
    for n, (line, (facility, local), status) in enumerate(zip(
            lines, ((town, town_local), (county, county_local), (county, county_local), (town, town_local)),
            ("active", "active", "active", "stopped"), strict=True)):
        when = NOW - timedelta(days=rng.randrange(1, 200))
        resource = prescription_resource(f"{facility}-rx-h{local}-{n}", line, facility, local, when, status)
        batch[PharmacyMedication].append(_medication_row(resource, "request", facility, local, line, when))
    if rng.random() < 0.3:  # a dispense at the county hospital within its days' supply
        line = lines[1]
        when = NOW - timedelta(days=rng.randrange(1, 40))
        dispensed = {"resourceType": "MedicationDispense", "id": f"{county}-disp-h{county_local}", "status": "completed",
                     "medicationCodeableConcept": {"coding": [{"system": COMMUNITY_DRUG, "code": line.code}]},
                     "subject": {"reference": f"Patient/{_patient_id(county, county_local)}"},
                     "whenHandedOver": when.isoformat(), "quantity": {"value": 30, "unit": "片"},
                     "daysSupply": {"value": 30, "unit": "天"}}
        batch[PharmacyMedication].append(_medication_row(dispensed, "dispense", county, county_local, line, when))
    if rng.random() < 0.2:
        atc, name = rng.choice(ALLERGIES)
        facility, local = rng.choice(((town, town_local), (county, county_local)))
        allergy = {"resourceType": "AllergyIntolerance", "id": f"{facility}-alg-{local}", "criticality": "high",
                   "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                  "allergyintolerance-clinical", "code": "active"}]},
                   "code": {"coding": [{"system": ATC, "code": atc, "display": name}], "text": name},
                   "patient": {"reference": f"Patient/{_patient_id(facility, local)}"}, "recordedDate": "2025-01-01"}
        batch[PharmacyAllergy].append({"id": allergy["id"], "facility_id": facility, "patient_key": f"{facility}/{local}",
                                       "patient_id": _patient_id(facility, local), "substance": name, "atc": atc,
                                       "criticality": "high", "status": "active", "recorded_at": None,
                                       "resource": json.dumps(allergy, ensure_ascii=False), "updated_at": NOW})
    egfr = rng.uniform(15, 45) if rng.random() < 0.1 else rng.uniform(60, 120)  # one in ten with poor kidneys
    batch[PharmacyLab].append({"id": f"{county}-obs-egfr-{county_local}", "facility_id": county,
                               "patient_key": f"{county}/{county_local}", "analyte": "egfr", "value": round(egfr, 1),
                               "unit": "mL/min/1.73m2", "observed_at": NOW - timedelta(days=rng.randrange(1, 300))})


def prefill(database: Database, patients: int, rng: random.Random) -> None:
    """Bulk-loads `patients` linked people and their pharmacy history (core inserts, FLUSH_EVERY people a commit)."""
    models = (StoredResource, PatientLink, PharmacyPatient, PharmacyMedication, PharmacyAllergy, PharmacyLab)
    batch: dict[type, list[dict[str, Any]]] = {model: [] for model in models}

    def flush() -> None:
        with database.transaction() as session:
            for model, rows in batch.items():
                if rows:
                    session.execute(insert(core_table(model)), rows)
                rows.clear()

    for i in range(patients):
        _person_rows(i, rng, batch)
        if (i + 1) % FLUSH_EVERY == 0:
            flush()
    flush()
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE"))  # planner statistics after a bulk load, as autovacuum would


def new_prescriptions(patients: int, count: int, rng: random.Random) -> list[Event]:
    """New prescriptions for random people at either member; one in twenty is an overdose."""
    events: list[Event] = []
    for n in range(count):
        facility, local = rng.choice(_members(rng.randrange(patients)))
        line = rng.choice(NEW)
        resource = prescription_resource(f"{facility}-rx-b{n}", line, facility, local, NOW - timedelta(hours=1),
                                         dose_factor=10.0 if rng.random() < 0.05 else 1.0)
        events.append(Event(f"bench-rx-{n}", "prescription", Source(facility, "bench", f"rx:{n}"), NOW, NOW,
                            f"{facility}/{local}", resource))
    return events


class _TimedPharmacy(PharmacyConsumer):
    """The real pharmacy consumer, noting how long each prescription took (keeping and reviewing it)."""

    def __init__(self, settings: HubSettings) -> None:
        super().__init__(settings, clock=lambda: NOW)
        self.timings_ms: list[float] = []

    def apply(self, session: Session, delivery: Delivery) -> None:
        started = time.perf_counter()
        super().apply(session, delivery)
        self.timings_ms.append((time.perf_counter() - started) * 1000)


def bound_pharmacy(settings: HubSettings, database: Database) -> _TimedPharmacy:
    consumer = _TimedPharmacy(settings)
    codec = EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix)
    consumer.bind(PartContext(settings, database, registered.services(), ResultOutbox(database, codec, settings)))
    return consumer


def review_prescriptions(database: Database, settings: HubSettings, patients: int, prescriptions: int,
                         rng: random.Random) -> dict[str, Any]:
    """Applies the new prescriptions in the consumer's batches and measures them."""
    consumer = bound_pharmacy(settings, database)
    events = new_prescriptions(patients, prescriptions, rng)
    size = settings.consumer_batch_size
    cpu, started = time.process_time(), time.perf_counter()
    for i in range(0, len(events), size):
        with database.transaction() as session:
            consumer.apply_batch(session, [Delivery("bench", 0, i + j, None, None, (), 0, e)
                                           for j, e in enumerate(events[i : i + size])])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with database.transaction() as session:
        outcomes = dict(session.execute(select(PharmacyReview.outcome, func.count()).group_by(PharmacyReview.outcome)).all())
    reviewed = sum(outcomes.values())
    cuts = statistics.quantiles(consumer.timings_ms, n=100) if len(consumer.timings_ms) > 1 else consumer.timings_ms * 99
    return {
        "pharmacy_prescriptions": len(events),
        "pharmacy_reviewed": reviewed,
        "pharmacy_reviews_per_s": round(reviewed / elapsed, 1),
        "pharmacy_review_ms_p50": round(cuts[49], 2),
        "pharmacy_review_ms_p99": round(cuts[98], 2),
        "pharmacy_cpu_s_per_1000": round(cpu / max(reviewed, 1) * 1000, 2),
        "pharmacy_outcomes": {outcome: int(outcomes.get(outcome, 0)) for outcome in ("pass", "warn", "hold")},
    }


def run_pharmacy_benchmark(base: HubSettings, patients: int = 200_000, prescriptions: int = 2000) -> dict[str, Any]:
    rng = random.Random(20261128)
    with tempfile.TemporaryDirectory(prefix="hub-bench-pharmacy-") as tmp, scratch_database(
        base.database_url, Path(tmp), "bench_pharmacy"
    ) as db:
        settings = base.model_copy(update={"data_dir": Path(tmp), "database_url": db.url})
        started = time.perf_counter()
        prefill(db, patients, rng)
        prefill_s = time.perf_counter() - started
        log.info("pharmacy: %d people with history loaded in %.0f s", patients, prefill_s)
        result = review_prescriptions(db, settings, patients, prescriptions, rng)
    return {"pharmacy_patients": patients, "pharmacy_prefill_s": round(prefill_s, 1), **result}
