"""Alertmanager routing and inhibition as shipped: `amtool` accepts the config and routes by severity
and member, and a real Alertmanager (Debian's, on loopback) keeps only the root alert of one broken
township and of a broker outage."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import free_port

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"
AMTOOL = shutil.which("amtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool missing: `make tools` installs Debian's prometheus-alertmanager package"
)


def amtool(*args: str) -> str:
    assert AMTOOL is not None
    done = subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"amtool {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@needs_amtool
def test_config_is_valid() -> None:
    amtool("check-config", str(CONFIG))


@needs_amtool
@pytest.mark.parametrize(("labels", "receiver"), [
    (["alertname=HubBrokerDown", "severity=critical"], "county-oncall"),
    (["alertname=HubConsumerLag", "severity=warning", "consumer=record_store"], "county-ops"),
    (["alertname=HubOutboxStale", "severity=critical", "facility=th01"], "county-oncall"),
    (["alertname=HubMemberSilent", "severity=warning", "facility=th01"], "county-ops"),
])
def test_routes_by_severity(labels: list[str], receiver: str) -> None:
    amtool("config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={receiver}", *labels)


def test_member_alerts_are_grouped_by_member() -> None:
    route = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["route"]
    member = [r for r in route["routes"] if r.get("matchers") == ['facility=~".+"']]
    assert member and member[0]["group_by"] == ["county", "facility"]


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """The shipped routes and inhibitions on a loopback Alertmanager whose receivers send nothing."""
    if ALERTMANAGER is None:
        pytest.skip("prometheus-alertmanager missing: `make tools` installs it")
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["global"] = {"resolve_timeout": "5m"}
    config["receivers"] = [{"name": receiver["name"]} for receiver in config["receivers"]]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={path}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "alertmanager.log").open("w"),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("Alertmanager did not start:\n" + (tmp_path / "alertmanager.log").read_text())
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def post(url: str, *alerts: dict[str, str]) -> None:
    """Alerts as a county's Prometheus sends them: `county` (its external label) on each."""
    body = json.dumps([{"labels": {"county": "qingshan", **labels}} for labels in alerts]).encode()
    request = urllib.request.Request(f"{url}/api/v2/alerts", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()


def active(url: str) -> set[frozenset[tuple[str, str]]]:
    """The label sets of the alerts neither inhibited nor silenced."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts?inhibited=false&silenced=false", timeout=5) as response:
        found: list[dict[str, Any]] = json.load(response)
    return {frozenset(alert["labels"].items()) for alert in found}


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset({"county": "qingshan", **values}.items())


def test_one_broken_township_leaves_one_alert(alertmanager: str) -> None:
    th01 = {"facility": "th01", "severity": "warning"}
    root = {"alertname": "HubConnectorDown", "job": "hub-connectors", "instance": "connector-th01:9100", **th01}
    elsewhere = {"alertname": "HubMemberSilent", "facility": "th02", "severity": "warning"}
    post(alertmanager, root,
         {"alertname": "HubMemberSilent", **th01},
         {"alertname": "HubOutboxStale", "connector": "th01-his", **th01},
         {"alertname": "HubDeliveryFailing", "destination": "th01/mllp", **th01},
         # another township, only silent: th01's trouble does not hide it; its silence hides its delivery
         elsewhere,
         {"alertname": "HubDeliveryFailing", "destination": "th02/mllp", "facility": "th02", "severity": "warning"})
    assert active(alertmanager) == {labels(**root), labels(**elsewhere)}


def test_broker_down_silences_what_it_causes_and_critical_silences_warning(alertmanager: str) -> None:
    down = {"alertname": "HubBrokerDown", "severity": "critical"}
    at_risk = {"alertname": "HubReadingAtRisk", "centre": "ecg", "severity": "warning"}  # not the broker's doing
    stat = {"alertname": "HubReadingBreached", "centre": "ecg", "priority": "stat"}
    routine = {"alertname": "HubReadingBreached", "centre": "ecg", "priority": "routine", "severity": "warning"}
    post(alertmanager, down, at_risk, routine,
         {"alertname": "HubConsumerLag", "consumer": "record_store", "topic": "hub.encounter.v1", "severity": "warning"},
         {"alertname": "HubMemberSilent", "facility": "th03", "severity": "warning"},
         {**stat, "severity": "critical"}, {**stat, "severity": "warning"})
    assert active(alertmanager) == {labels(**down), labels(**at_risk), labels(**stat, severity="critical"),
                                    labels(**routine)}


def test_counties_sharing_an_alertmanager_do_not_inhibit_each_other(alertmanager: str) -> None:
    """Member ids repeat between counties (both have a th01): one county's trouble hides nothing of another's."""
    down = {"alertname": "HubConnectorDown", "facility": "th01", "severity": "warning"}
    other = {"alertname": "HubMemberSilent", "facility": "th01", "severity": "warning", "county": "baishui"}
    broker = {"alertname": "HubBrokerDown", "severity": "critical"}
    lag = {"alertname": "HubConsumerLag", "consumer": "record_store", "topic": "hub.encounter.v1",
           "severity": "warning", "county": "baishui"}
    post(alertmanager, down, other, broker, lag)
    assert active(alertmanager) == {labels(**down), labels(**broker), frozenset(other.items()), frozenset(lag.items())}
