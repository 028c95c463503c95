"""The benchmarks run end to end at a small size (their figures come from `make bench`, not tests)."""

from __future__ import annotations

from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.tools.bench import _TimedRecordStore
from hub.tools.bench_mpi import run_mpi_benchmark
from tests.factories import patient_event


def test_patient_index_benchmark_runs(settings: HubSettings) -> None:
    result = run_mpi_benchmark(settings, indexed=1500, incoming=300, queries=30)
    assert result["mpi_indexed"] == 1500
    assert result["mpi_match_records_per_s"] > 0 and result["mpi_record_store_records_per_s"] > 0
    assert 0 < result["everything_ms_p50"] <= result["everything_ms_p99"]
    assert 0 < result["patient_search_ms_p50"] <= result["patient_search_ms_p99"]
    assert all(result[f"patient_search_{kind}_ms_p99"] > 0 for kind in ("name", "pinyin", "birthdate", "identifier"))


def test_timed_record_store_is_the_real_one(settings: HubSettings, db: Database) -> None:
    consumer = _TimedRecordStore(settings)
    with db.transaction() as session:
        consumer.apply_batch(session, [Delivery("t", 0, 0, None, None, (), 0, patient_event())])
    assert len(consumer.latencies_ms) == 1
