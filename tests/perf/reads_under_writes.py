"""Read latency under a mixed load on SQLite (door's figures for issue 8, defect 8).

Two writer processes apply record-store batches (100 encounters per transaction, as the record
store consumer does) without pause, while one reader calls GET /fhir/Patient/{id} and
GET /fhir/Encounter?patient=... (both audited) for DURATION seconds. Run from a worktree:
  .venv/bin/python -m tests.perf.reads_under_writes [SECONDS]
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

sys.path.insert(0, ".")
from consumers.record_store.writer import RecordWriter  # noqa: E402
from hub.app import parts as registered  # noqa: E402
from hub.app.api.app import create_app  # noqa: E402
from hub.core.config import HubSettings  # noqa: E402
from hub.core.db import Database  # noqa: E402
from tests.factories import encounter_event, patient_event  # noqa: E402

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0


def write(url: str, worker: int, stop, batches) -> None:  # type: ignore[no-untyped-def]
    """A writer process: the record store consumer's batches, one after another."""
    db = Database(url)
    n = 0
    while not stop.is_set():
        with db.transaction() as session:
            writer = RecordWriter(session)
            for _ in range(100):
                n += 1
                writer.apply(encounter_event("th01", str(n % 50), visit=worker * 500_000 + n))
            writer.finish()
        with batches.get_lock():
            batches.value += 1
    db.dispose()


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'hub.db'}"
    db = Database(url)
    registered.migrate(db)
    with db.transaction() as session:
        writer = RecordWriter(session)
        for i in range(50):
            writer.apply(patient_event("th01", str(i), name="王秀英", resident_id=None))
        writer.finish()
    settings = HubSettings(data_dir=tmp, database_url=url, kafka_bootstrap="127.0.0.1:1",
                           admin_token=SecretStr("admin"))
    client = TestClient(create_app(settings, db))
    headers = {"Authorization": "Bearer admin"}
    assert client.get("/fhir/Patient/th01-pat-1", headers=headers).status_code == 200
    stop = multiprocessing.Event()
    batches = multiprocessing.Value("i", 0)

    def idle_reads(count: int) -> list[float]:
        took = []
        for i in range(count):
            started = time.perf_counter()
            path = "/fhir/Patient/th01-pat-1" if i % 2 else "/fhir/Encounter?patient=th01-pat-2&_count=10"
            assert client.get(path, headers=headers).status_code == 200
            took.append((time.perf_counter() - started) * 1000)
        return took

    quiet = idle_reads(100)
    threads = [multiprocessing.Process(target=write, args=(url, w, stop, batches), daemon=True) for w in (1, 2)]
    for t in threads:
        t.start()
    loaded: list[float] = []
    deadline = time.monotonic() + DURATION
    while time.monotonic() < deadline:
        loaded += idle_reads(1)
    stop.set()
    for t in threads:
        t.join(60)

    def show(name: str, values: list[float]) -> str:
        values = sorted(values)
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        return (f"{name}: n={len(values)} p50={statistics.median(values):.1f} ms p99={p99:.1f} ms "
                f"max={values[-1]:.1f} ms")

    print(show("reads, no writers", quiet))
    print(show(f"reads, 2 writers ({batches.value} batches of 100 in {DURATION:.0f} s)", loaded))
    db.dispose()


if __name__ == "__main__":
    main()
