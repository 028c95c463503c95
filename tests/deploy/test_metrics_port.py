"""`hub connector run` and `hub consumer run` serve /metrics on HUB_METRICS_PORT, so the Prometheus of
deploy/ can scrape a township's connector (outbox, broker reachability) and extra consumer processes."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from hub.app.cli import CliError, _serve_metrics
from hub.core.config import HubSettings
from tests.conftest import free_port


def test_unset_serves_nothing() -> None:
    assert _serve_metrics(HubSettings(metrics_port=None)) is None


def test_serves_the_hub_metrics() -> None:
    port = free_port()
    server = _serve_metrics(HubSettings(metrics_port=port, http_host="127.0.0.1"))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert "# TYPE hub_outbox_backlog gauge" in text
    finally:
        server.shutdown()
        server.server_close()


def test_a_busy_port_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CliError, match="HUB_METRICS_PORT"):
            _serve_metrics(HubSettings(metrics_port=port, http_host="127.0.0.1"))
