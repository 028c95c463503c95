"""The reading centres at county size: 10,000 open worklist items in a scratch database, then the
worklist query (a centre's page, soonest due first, with the filters readers use), the FHIR Task search
over HTTP (audited and masked as a reader gets it) and claims (each its own transaction, as the route
does), timed one by one."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from consumers.reading import queries
from consumers.reading.config import PRIORITIES, load_config
from consumers.reading.models import ReadingItem
from consumers.reading.worklist import Actor, claim
from hub.app.api.app import create_app
from hub.core.config import HubSettings
from hub.core.events import utcnow
from hub.core.web.auth import issue_token
from hub.tools.scratch import scratch_database

CENTRES = ("ecg", "ecg", "ecg", "imaging", "imaging", "pathology")  # ECGs are most of a county's reads


def _items(count: int, rng: random.Random) -> list[dict[str, Any]]:
    now, rows = utcnow(), []
    for n in range(count):
        centre = rng.choice(CENTRES)
        state = rng.choices(("ready", "waiting", "claimed"), (70, 20, 10))[0]
        ready_at = now - timedelta(minutes=rng.uniform(0, 600)) if state != "waiting" else None
        facility = f"th{rng.randint(1, 5):02d}" if rng.random() < 0.6 else f"vc{rng.randint(1, 20):02d}"
        rows.append({
            "id": f"rd-{facility}-sr-{n}", "centre": centre, "modality": {"ecg": "ECG", "imaging": "CT"}.get(centre, "SM"),
            "state": state, "stage": "first", "priority": rng.choices(PRIORITIES, (70, 15, 10, 5))[0],
            "facility_id": facility, "patient_key": f"{facility}/{rng.randint(1, 4000)}",
            "patient_id": f"{facility}-pat-{n}", "order_id": f"{facility}-sr-{n}", "created_at": now, "updated_at": now,
            "ready_at": ready_at, "due_at": ready_at + timedelta(minutes=30) if ready_at else None,
            "at_risk_at": ready_at + timedelta(minutes=24) if ready_at else None,
            "holder": "reader-x" if state == "claimed" else None,
            "lease_until": now + timedelta(minutes=10) if state == "claimed" else None,
            "escalation": 0, "second_reading": False,
        })
    return rows


def _cuts(timings: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(timings, n=100)
    return round(cuts[49], 2), round(cuts[98], 2)


def run_reading_benchmark(base: HubSettings, open_items: int = 10_000, rounds: int = 500) -> dict[str, Any]:
    rng = random.Random(20261127)
    with tempfile.TemporaryDirectory(prefix="hub-bench-reading-") as tmp, \
            scratch_database(base.database_url, Path(tmp), "bench_reading") as db:
        settings = base.model_copy(update={"data_dir": Path(tmp), "database_url": db.url})
        config = load_config(settings.reading_targets, settings.reading_lease_s)
        items = _items(open_items, rng)
        with db.transaction() as session:
            for start in range(0, len(items), 1000):
                session.execute(insert(ReadingItem), items[start:start + 1000])
            token = issue_token(session, "bench-reader", "reader", "cty01")  # audited and masked, as readers are
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))  # planner statistics after a bulk load, as autovacuum would

        worklist: list[float] = []
        for _ in range(rounds):
            spec = queries.WorklistFilter(centres=(rng.choice(("ecg", "imaging", "pathology")),),
                                          states=(rng.choice(("ready", "open")),),
                                          priorities=(rng.choice(PRIORITIES),) if rng.random() < 0.3 else ())
            started = time.perf_counter()
            with db.reading() as session:
                queries.worklist(session, spec, utcnow(), 50, 0)
            worklist.append((time.perf_counter() - started) * 1000)

        search: list[float] = []
        with TestClient(create_app(settings, db)) as client:
            for _ in range(min(rounds, 200)):
                code = rng.choice(("ecg-read", "imaging-read", "pathology-read"))
                started = time.perf_counter()
                answer = client.get("/fhir/Task", params={"code": code, "status": "ready", "_count": 50},
                                    headers={"Authorization": f"Bearer {token}"})
                search.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"the Task search failed: {answer.status_code} {answer.text[:200]}")

        ready = [i["id"] for i in items if i["state"] == "ready"]
        claims: list[float] = []
        for n, item_id in enumerate(rng.sample(ready, min(rounds, len(ready)))):
            started = time.perf_counter()
            with db.transaction() as session:
                claim(session, item_id, Actor(f"reader-{n % 12}"), config, utcnow())
            claims.append((time.perf_counter() - started) * 1000)
    worklist_p50, worklist_p99 = _cuts(worklist)
    search_p50, search_p99 = _cuts(search)
    claim_p50, claim_p99 = _cuts(claims)
    return {
        "reading_open_items": open_items,
        "reading_worklist_ms_p50": worklist_p50, "reading_worklist_ms_p99": worklist_p99,
        "reading_task_search_ms_p50": search_p50, "reading_task_search_ms_p99": search_p99,
        "reading_claim_ms_p50": claim_p50, "reading_claim_ms_p99": claim_p99,
    }
