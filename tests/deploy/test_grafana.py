"""The Grafana dashboards ship complete: the five the operators asked for, each provisioned by the
compose file from the repository, laid out without overlaps, using only the provisioned data source."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def boards() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in DASHBOARDS}


def test_the_five_dashboards_exist_with_unique_uids() -> None:
    found = boards()
    assert set(found) == {"overview", "connectors", "consumers", "reading", "pharmacy"}
    uids = [board["uid"] for board in found.values()]
    assert len(set(uids)) == len(uids)
    for board in found.values():
        assert "/" in board["title"], f"{board['uid']}: title in English and Chinese"
        assert board["panels"] and board["schemaVersion"] >= 36


def test_panels_use_the_provisioned_prometheus_and_do_not_overlap() -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "hub.yml").read_text(encoding="utf-8"))
    uids = {source["uid"]: source["type"] for source in sources["datasources"]}
    for name, board in boards().items():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        taken: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}: {panel['title']} is wider than the board"
            cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                     for y in range(grid["y"], grid["y"] + grid["h"])}
            assert not cells & taken, f"{name}: {panel['title']} overlaps another panel"
            taken |= cells
            if panel["type"] == "row":
                continue
            assert panel["targets"], f"{name}: {panel['title']} has no query"
            for source in (panel["datasource"], *(target["datasource"] for target in panel["targets"])):
                assert uids.get(source["uid"]) == source["type"] == "prometheus"


def test_compose_provisions_the_dashboards_from_the_repository() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in grafana["volumes"]}
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "hub.yml").read_text(encoding="utf-8"))
    assert mounts["./grafana/dashboards"] == providers["providers"][0]["options"]["path"]
    prometheus = compose["services"]["prometheus"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = [target for job in config["scrape_configs"] for static in job.get("static_configs", [])
               for target in static["targets"]]
    # replicas of a scaled service, found by name in Docker's DNS
    targets += [f"{name}:{sd['port']}" for job in config["scrape_configs"] for sd in job.get("dns_sd_configs", [])
                for name in sd["names"]]
    assert "alertmanager:9093" in targets
    # every hub process of the compose file is scraped
    hub_services = [name for name, service in compose["services"].items() if service.get("env_file") == "hub.env"]
    scraped = {target.split(":")[0] for target in targets}
    assert set(hub_services) <= scraped, f"not scraped: {set(hub_services) - scraped}"
