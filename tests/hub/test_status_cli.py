"""`hub status` in the terminal: lag in messages and seconds from the broker, latency from the running hub."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from hub.core import metrics
from hub.core.config import HubSettings
from hub.core.topics import spec_for
from tests.factories import patient_event
from tests.hub.test_consuming import publish
from tests.test_cli import hub

pytestmark = pytest.mark.broker


@pytest.fixture
def running_hub_metrics() -> Iterator[int]:
    """What a running hub's /metrics answers about latency: 3 patient events, 0.3 to 0.5 s."""
    registry = CollectorRegistry()
    latency = Histogram(metrics.EVENT_LATENCY._name, "latency", ["consumer", "topic", "facility"],
                        buckets=metrics.EVENT_LATENCY._upper_bounds[:-1], registry=registry)
    for seconds in (0.3, 0.4, 0.5):
        latency.labels("record_store", "x.hub.patient.v1", "th01").observe(seconds)
    body = generate_latest(registry)

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            self.send_response(200 if self.path == "/metrics" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_hub_status_prints_lag_in_seconds_and_latency(broker_settings: HubSettings, running_hub_metrics: int) -> None:
    settings = broker_settings
    publish(settings, [patient_event("th01", str(p), resident_id=None) for p in range(6)])
    env = {
        "HUB_KAFKA_BOOTSTRAP": settings.bootstrap, "HUB_TOPIC_PREFIX": settings.topic_prefix,
        "HUB_DATABASE_URL": settings.db_url, "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_HTTP_PORT": str(running_hub_metrics),
    }
    result = hub("status", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # No consumer ran: every patient event is unapplied, and its age is shown in seconds.
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("record_store "))
    assert re.search(r"\s6\s+\d+\.\d+s$", lines[at]), lines[at]
    topic = spec_for("patient").topic(settings)
    block = list(itertools.takewhile(lambda line: line.startswith("    "), lines[at + 1:]))  # its partitions
    behind = [line for line in block if line.strip().startswith(f"{topic}[")]
    assert len(behind) == len(block)
    assert behind and all(re.search(r"behind, oldest \d+\.\d+s$", line) for line in behind), out
    assert sum(int(line.split(": ")[1].split()[0]) for line in behind) == 6
    assert f"http://127.0.0.1:{running_hub_metrics}/metrics, since the hub started" in out
    latency = next(line for line in out.splitlines() if line.startswith("x.hub.patient.v1"))
    assert latency.split()[1] == "3" and 0.25 <= float(latency.split()[2].rstrip("s")) <= 0.5, latency
    assert "data disk:" in out
    assert "th01-his" in out  # its outbox, read from the file

