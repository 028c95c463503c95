"""The supervisor of `hub run --processes` with real child processes: exits are logged with their code and
restarted with backoff, stop ends every child; children's metrics merge into the hub's, one family per name."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Metric, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.app.child_state import ChildrenMetrics, merged_registry
from hub.app.supervisor import ChildSpec, Supervisor, describe_exit
from hub.core import metrics


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HUB_DATA_DIR": str(tmp_path / "var"), "HUB_LOG_LEVEL": "WARNING"}


@pytest.mark.timeout(300)
def test_a_child_that_dies_is_logged_with_its_code_and_restarted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hub.supervisor")
    # An unknown consumer: `hub consumer run` exits at once with code 2.
    supervisor = Supervisor([ChildSpec("consumer-nobody", ("consumer", "run", "nobody"))], _env(tmp_path))
    supervisor.start()
    child = supervisor.children[0]
    first = child.pid
    try:
        deadline = time.monotonic() + 240  # each start imports the hub: slow on a loaded machine
        while child.restarts < 2 and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.05)
        assert child.restarts == 2 and child.pid != first
        exits = [r.getMessage() for r in caplog.records if "exited with code 2; restarting in" in r.getMessage()]
        assert len(exits) >= 2
        delays = [float(m.split("restarting in ")[1].split(" s")[0]) for m in exits]
        assert delays[1] > delays[0]  # backoff grows (1 s then about 2 s, ±20%)
    finally:
        supervisor.stop()
    assert not any(c.alive for c in supervisor.children)


def test_stop_ends_children_and_kills_those_that_do_not_stop(tmp_path: Path) -> None:
    # `hub broker` on a free port stays up until SIGTERM: a long-running child.
    from hub.app.supervisor import free_port

    supervisor = Supervisor([ChildSpec("broker", ("broker", "--port", str(free_port())))], _env(tmp_path), grace_s=5)
    supervisor.start()
    child = supervisor.children[0]
    time.sleep(2)
    assert child.alive
    supervisor.stop()
    assert not child.alive and child.process is not None and child.process.returncode is not None
    supervisor.check()  # a stopped supervisor starts nothing again
    assert child.restarts == 0 and not child.alive


def test_exit_codes_read_as_people_say_them() -> None:
    assert describe_exit(0) == "code 0"
    assert describe_exit(2) == "code 2"
    assert describe_exit(-9) == "signal SIGKILL"


class _Children(ChildrenMetrics):
    """The families two children would answer, without their processes (the merge is what is tested)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def families(self) -> list[Metric]:
        return list(text_string_to_metric_families(self.text))


def test_children_metrics_merge_into_one_family_per_name() -> None:
    local = CollectorRegistry()
    Counter("hub_events_in_total", "Events accepted.", ["connector"], registry=local).labels("fhir-rest").inc()
    children = _Children(
        "# TYPE hub_events_in_total counter\n"
        'hub_events_in_total{connector="th01-his",child="connectors-1"} 5\n'
        'hub_events_in_total{connector="th02-his",child="connectors-2"} 7\n'
        "# TYPE hub_consumer_assigned_partitions gauge\n"
        'hub_consumer_assigned_partitions{consumer="record_store",child="consumer-record_store"} 45\n'
    )
    text = generate_latest(merged_registry(children, local)).decode()
    assert text.count("# TYPE hub_events_in_total counter") == 1
    families = {f.name: f for f in text_string_to_metric_families(text)}
    values = {s.labels["connector"]: s.value for s in families["hub_events_in"].samples if s.name.endswith("_total")}
    assert values == {"fhir-rest": 1.0, "th01-his": 5.0, "th02-his": 7.0}
    assert families["hub_consumer_assigned_partitions"].samples[0].value == 45.0
    assert children.values(metrics.CONSUMER_ASSIGNED, "consumer") == {"record_store": 45.0}
