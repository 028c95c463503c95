"""The benchmark's stages run end to end at a tiny size on the real broker: each reports its keys with
positive figures. Their values come from `make bench`, never from tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.core.config import HubSettings
from hub.core.db import Database
from hub.tools.bench import run_benchmark
from hub.tools.bench_soak import run_soak, tree_rss_mb
from hub.tools.bench_stages import (
    CONSUMER_STAGES,
    Prefilled,
    bound_runner,
    connector_stages,
    consumer_stage,
    drain,
    ecg_stage,
    reads_under_load,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _positive(result: dict[str, float], keys: list[str]) -> None:
    assert set(keys) <= set(result), sorted(set(keys) - set(result))
    assert all(result[key] > 0 for key in keys), {key: result[key] for key in keys}


def test_one_connector_and_its_relay(broker_settings: HubSettings) -> None:
    figures, payloads = connector_stages(broker_settings, rows=300)
    _positive(figures, ["stage_connector_rows_per_s", "stage_connector_cpu_s_per_1000",
                        "stage_relay_events_per_s", "stage_relay_cpu_s_per_1000"])
    assert payloads and all(p[0] == 0 for p in payloads)  # Confluent wire format, as the relay sent them


def test_each_consumer_alone_then_reads_under_load(broker_settings: HubSettings, db: Database) -> None:
    prefilled = Prefilled.start(broker_settings, events=500)
    try:
        for name in CONSUMER_STAGES:
            _positive(consumer_stage(prefilled, db, name, batch_size=20),
                      [f"stage_{name}_events_per_s", f"stage_{name}_cpu_s_per_1000"])
        result = reads_under_load(prefilled, db, rate=100, seconds=3)
        # A stage that outlasts its time reports what it did rather than losing the run.
        runner = bound_runner(prefilled.settings, db, "record_store", 20, prefilled.configs)
        applied = prefilled.expected(runner)
        partial = drain(runner, applied + 1000, timeout_s=20)
        assert 0 < partial.events < applied
    finally:
        prefilled.close()
    _positive(result, ["reads_under_load_search_ms_p99", "reads_under_load_everything_ms_p99",
                       "reads_under_load_write_events_per_s", "reads_under_load_reads"])


def test_ecg_consumer_alone(broker_settings: HubSettings, db: Database) -> None:
    _positive(ecg_stage(broker_settings, db, studies=5), ["stage_ecg_events_per_s", "stage_ecg_cpu_s_per_1000"])


def test_whole_path_with_latency_at_steady_rates(broker_settings: HubSettings) -> None:
    result = run_benchmark(broker_settings, events=300, stages={"e2e", "latency"}, latency_seconds=2)
    _positive(result, ["events", "e2e_events_per_s", "e2e_cpu_s_per_1000", "transport_events_per_s", "ratio",
                       "latency_ms_p50", "latency_ms_p99", "peak_rss_mb",
                       "latency_200_ms_p50", "latency_200_ms_p99", "latency_200_applied_events_per_s",
                       "latency_1000_ms_p50", "latency_1000_ms_p99", "latency_1000_applied_events_per_s"])
    assert result["latency_200_ms_p50"] <= result["latency_200_ms_p99"]


def test_rss_counts_the_whole_process_tree() -> None:
    # A child holding 64 MB: the tree's figure must include it.
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; b = bytearray(64 << 20); b[::4096] = "
                              "b'x' * len(b[::4096]); print(1, flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline()
        alone = tree_rss_mb(child.pid)
        assert alone >= 64
        assert tree_rss_mb(os.getpid()) >= alone
    finally:
        child.kill()
        child.wait(10)


def test_memory_soak_of_the_demo_hub(settings: HubSettings, tmp_path: Path) -> None:
    result = run_soak(settings, tmp_path, seconds=2, every_s=1)
    _positive(result, ["soak_seconds", "soak_rss_mb_start", "soak_rss_mb_end", "soak_rss_mb_peak"])
    assert result["soak_rss_mb_peak"] >= max(result["soak_rss_mb_start"], result["soak_rss_mb_end"])


def test_unknown_stage_is_named() -> None:
    result = subprocess.run([sys.executable, "-m", "hub.app.cli", "bench", "--stages", "connector,nope"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "unknown stage nope; the stages are e2e, latency" in result.stderr.strip().splitlines()[-1]
