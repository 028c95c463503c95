"""The patient index benchmark: matching speed with a county-sized index, and $everything latency.

An index of `indexed` residents (each with a community patient, a source record, blocking keys
and three encounters) is bulk-loaded into a fresh database (a temporary SQLite file, or a
temporary schema of HUB_DATABASE_URL's PostgreSQL). Then:
  matching      new registrations (half of them people already indexed, re-typed with errors)
                go through the index: features, blocking, scoring, decision, index writes;
  record store  more registrations go through the whole record-store consumer (matching plus
                storing the FHIR resources, golden records and review tasks);
  $everything   random community patients are read over HTTP from a live server.
"""

from __future__ import annotations

import gc
import json
import logging
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from faker.providers.person.zh_CN import Provider as ChineseNames
from sqlalchemy import insert, text

from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.matching.blocking import blocking_keys
from consumers.record_store.matching.features import features
from consumers.record_store.matching.index import CandidateIndex
from consumers.record_store.matching.rules import load_rules
from consumers.record_store.models import (
    MatchBlock,
    PatientIdentifier,
    PatientLink,
    ResourceIdentifier,
    SearchValue,
    StoredResource,
)
from consumers.record_store.search.reindex import rows_of
from consumers.record_store.store import community_patient_id, linking_identifiers
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.db.models import core_table
from hub.core.events import Event, Source
from hub.tools.bench_http import READS, SEARCHES, searchable, served, timed_read
from hub.tools.demo.catalogues import TOWNSHIPS, VILLAGES
from hub.tools.demo.matching_dataset import FACILITIES, GIVEN, register
from hub.tools.demo.people import Person, resident_id_for
from hub.tools.scratch import scratch_database

log = logging.getLogger(__name__)
_SURNAMES = list(ChineseNames.last_names.keys())
_SURNAME_WEIGHTS = list(ChineseNames.last_names.values())
_WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def _resident(rng: random.Random, index: int, issued: set[str]) -> Person:
    """A resident drawn like the demo's people (Faker's zh_CN surname weights and given names)."""
    sex = "male" if rng.random() < 0.5 else "female"
    name = rng.choices(_SURNAMES, _SURNAME_WEIGHTS)[0] + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    birth = date(1935, 1, 1) + timedelta(days=rng.randrange(0, 33_000))
    phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    rid: str | None = None
    if rng.random() < 0.8:
        rid = resident_id_for(rng, birth, sex)
        while rid in issued:  # resident IDs are unique
            rid = resident_id_for(rng, birth, sex)
        issued.add(rid)
    return Person(index, name, sex, birth, rid, phone, TOWNSHIPS[index % 5][2], VILLAGES[(index // 5) % len(VILLAGES)])


def _load_index(database: Database, people: list[Person], rules_version: str, rng: random.Random,
                sample: list[dict[str, Any]]) -> list[str]:
    """Bulk-loads one county-hospital or township record per resident; returns the community ids, and
    keeps every 20th stored Patient in `sample` (what the search benchmark looks for)."""
    communities: list[str] = []
    batch: dict[type, list[dict[str, Any]]] = {StoredResource: [], PatientLink: [], MatchBlock: [], PatientIdentifier: [],
                                               SearchValue: [], ResourceIdentifier: []}

    def flush() -> None:
        with database.transaction() as session:
            for model, rows in batch.items():
                if rows:
                    session.execute(insert(core_table(model)), rows)
                rows.clear()

    for p in people:
        facility = "cty01" if p.index % 3 == 0 else TOWNSHIPS[p.index % 5][0]
        local = f"{p.index:07d}"
        resource, _ = register(p, facility, local, rng)
        key, cp = f"{facility}/{local}", community_patient_id(f"{facility}/{local}")
        found = features(resource)
        communities.append(cp)
        if p.index % 20 == 0:
            sample.append(resource)
        resource["link"] = [{"other": {"reference": f"Patient/{cp}"}, "type": "refer"}]
        golden = {**resource, "id": cp, "meta": {"tag": [{"system": "urn:hub:tag", "code": "golden"}]},
                  "link": [{"other": {"reference": f"Patient/{resource['id']}"}, "type": "seealso"}]}
        batch[SearchValue] += rows_of(resource) + rows_of(golden)  # what the record store indexes for search
        batch[ResourceIdentifier] += [{"resource_type": "Patient", "id": rid, "system": i.get("system", ""),
                                       "value": i["value"]} for rid in (resource["id"], cp)
                                      for i in resource.get("identifier") or [] if i.get("value")]
        common = {"version_id": 1, "last_updated": _WHEN, "occurred_at": _WHEN, "date": None, "code": None,
                  "status": None, "source_event_id": None, "subject_id": None}
        batch[StoredResource].append({**common, "resource_type": "Patient", "id": resource["id"], "facility_id": facility,
                                      "patient_key": key, "golden": False, "content": json.dumps(resource, ensure_ascii=False)})
        batch[StoredResource].append({**common, "resource_type": "Patient", "id": cp, "facility_id": None,
                                      "patient_key": None, "golden": True, "content": json.dumps(golden, ensure_ascii=False)})
        for visit in range(3):
            start = _WHEN - timedelta(days=rng.randrange(0, 900))
            encounter = {"resourceType": "Encounter", "id": f"{facility}-enc-{local}-{visit}", "status": "finished",
                         "class": {"code": "AMB"}, "subject": {"reference": f"Patient/{resource['id']}"},
                         "period": {"start": start.isoformat()}}
            batch[SearchValue] += rows_of(encounter)
            batch[StoredResource].append({**common, "resource_type": "Encounter", "id": encounter["id"],
                                          "facility_id": facility, "patient_key": key, "golden": False, "date": start,
                                          "status": "finished", "subject_id": resource["id"],  # as the writer sets it
                                          "content": json.dumps(encounter)})
        batch[PatientLink].append({"patient_key": key, "source_patient_id": resource["id"], "community_patient_id": cp,
                                   "linked_by": "new", "linked_at": _WHEN, "facility_id": facility,
                                   "features": found.to_json(), "score": None, "rules_version": rules_version,
                                   "pinned": False})
        batch[MatchBlock] += [{"key": k, "patient_key": key} for k in set(blocking_keys(found))]
        batch[PatientIdentifier] += [{"system": s, "value": v, "patient_key": key} for s, v in linking_identifiers(resource, facility)]
        if len(batch[PatientLink]) >= 5000:
            flush()
    flush()
    return communities


def _incoming(people: list[Person], count: int, rng: random.Random, start_index: int, tag: str,
              issued: set[str]) -> list[Event]:
    """New registrations: half of them residents already indexed, re-typed at another member."""
    events: list[Event] = []
    for i in range(count):
        if i % 2 == 0:
            p = rng.choice(people)
            facility = rng.choice([f for f in FACILITIES if f.startswith("vc")])
        else:
            p = _resident(rng, start_index + i, issued)
            facility = rng.choice(FACILITIES)
        local = f"{tag}{i:07d}"
        resource, _ = register(p, facility, local, rng)
        events.append(Event(f"{tag}-{i}", "patient", Source(facility, "bench", local), _WHEN, _WHEN,
                            f"{facility}/{local}", resource))
    return events


def _match_only(database: Database, events: list[Event], rules: Any, batch: int = 500) -> float:
    started = time.perf_counter()
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        with database.transaction() as session:
            index = CandidateIndex(session, rules)
            found = [features(e.resource) for e in chunk]
            index.prefetch({k for f in found for k in blocking_keys(f)})
            links = []
            for event, f in zip(chunk, found, strict=True):
                decision = index.match(f, exclude=event.patient_key)
                cp = decision.community_id if decision.outcome == "link" else community_patient_id(event.patient_key)
                index.remember(event.patient_key, cp or "", f, new_record=True)
                links.append({"patient_key": event.patient_key, "source_patient_id": event.resource["id"],
                              "community_patient_id": cp, "linked_by": decision.outcome, "linked_at": _WHEN,
                              "facility_id": event.source.facility_id, "features": f.to_json(),
                              "rules_version": rules.version, "pinned": False})
            index.flush()
            session.execute(insert(core_table(PatientLink)), links)
    return len(events) / (time.perf_counter() - started)


def _record_store(database: Database, events: list[Event], settings: HubSettings, batch: int = 500) -> float:
    consumer = RecordStoreConsumer(settings)
    started = time.perf_counter()
    for i in range(0, len(events), batch):
        with database.transaction() as session:
            consumer.apply_batch(session, [Delivery("bench", 0, i + j, None, None, (), 0, e)
                                           for j, e in enumerate(events[i : i + batch])])
    return len(events) / (time.perf_counter() - started)


def _read_latency(database: Database, settings: HubSettings, communities: list[str], stored: list[dict[str, Any]],
                  queries: int, rng: random.Random) -> dict[str, list[float]]:
    """Milliseconds per request over HTTP from a live server: $everything, and each kind of Patient search."""
    timings: dict[str, list[float]] = {kind: [] for kind in READS}
    patients = searchable(stored)
    with served(settings, database) as client:
        for i in range(queries + 20):
            for kind in READS:
                elapsed = timed_read(client, kind, communities, patients, rng)
                if i >= 20:  # the first requests warm caches and connections
                    timings[kind].append(elapsed)
    return timings


def run_mpi_benchmark(base: HubSettings, indexed: int = 200_000, incoming: int = 10_000,
                      queries: int = 1000) -> dict[str, Any]:
    rng = random.Random(20261123)
    rules = load_rules(base.match_rules)
    with tempfile.TemporaryDirectory(prefix="hub-bench-mpi-") as tmp, scratch_database(base.database_url, Path(tmp), "bench_mpi") as db:
        settings = base.model_copy(update={"data_dir": Path(tmp), "database_url": db.url})
        started = time.perf_counter()
        issued: set[str] = set()
        people = [_resident(rng, i, issued) for i in range(indexed)]
        stored: list[dict[str, Any]] = []
        communities = _load_index(db, people, rules.version, rng, stored)
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))  # planner statistics after a bulk load, as autovacuum would
        if db.is_sqlite:  # the bulk load's write-ahead log back into the file, as a running hub's checkpoints do
            raw = db.engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # outside a transaction
            finally:
                raw.close()
        log.info("indexed %d residents in %.0f s", indexed, time.perf_counter() - started)
        # The residents and samples are the harness's, not the hub's: frozen, as a server's start-up objects
        # would be, so that every full collection during the timed parts does not walk them again.
        gc.collect()
        gc.freeze()
        match_rate = _match_only(db, _incoming(people, incoming, rng, indexed, "m", issued), rules)
        store_rate = _record_store(db, _incoming(people, incoming // 2, rng, indexed + incoming, "s", issued), settings)
        timings = _read_latency(db, settings, communities, stored, queries, rng)
    cuts = statistics.quantiles(timings["everything"], n=100)
    searches = [t for kind in SEARCHES for t in timings[kind]]
    every = statistics.quantiles(searches, n=100)
    return {
        "mpi_indexed": indexed,
        "mpi_match_records_per_s": round(match_rate, 1),
        "mpi_record_store_records_per_s": round(store_rate, 1),
        "everything_ms_p50": round(cuts[49], 2),
        "everything_ms_p99": round(cuts[98], 2),
        "patient_search_ms_p50": round(every[49], 2),
        "patient_search_ms_p99": round(every[98], 2),
        **{f"patient_search_{kind}_ms_p99": round(statistics.quantiles(timings[kind], n=100)[98], 2) for kind in SEARCHES},
    }
