"""The alert rules and the Prometheus config ship checked: `promtool check` accepts them and `promtool
test rules` proves every rule fires after its `for`, stays quiet below its threshold and clears."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make tools` installs Debian's prometheus package"
)


def promtool(*args: str, cwd: Path = PROMETHEUS) -> None:
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def rules() -> list[dict]:
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
            for rule in group["rules"]]


@needs_promtool
def test_rules_are_valid() -> None:
    promtool("check", "rules", *map(str, RULE_FILES))


@needs_promtool
def test_config_is_valid_and_loads_every_rule_file() -> None:
    promtool("check", "config", "prometheus.yml")
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    loaded = {path for pattern in config["rule_files"] for path in PROMETHEUS.glob(pattern)}
    assert loaded == set(RULE_FILES)


@needs_promtool
def test_kubernetes_config_is_valid(tmp_path: Path) -> None:
    """deploy/k8s/monitoring/prometheus.yml. Debian's promtool is built without Kubernetes service
    discovery, so the discovery block is swapped for a static target; the rest (relabelling, rules,
    alerting) is checked as written."""
    config = yaml.safe_load((DEPLOY / "k8s" / "monitoring" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["global"]["external_labels"]["county"]
    jobs = config["scrape_configs"]
    assert all(job.get("kubernetes_sd_configs") for job in jobs)
    for job in jobs:
        job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": ["hub:8080"]}]
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    promtool("check", "config", "prometheus.yml", cwd=tmp_path)


@needs_promtool
def test_rule_unit_tests_pass() -> None:
    promtool("test", "rules", *(path.name for path in TEST_FILES), cwd=PROMETHEUS / "tests")


def test_every_rule_has_a_for_a_severity_and_both_languages() -> None:
    found = rules()
    assert found
    for rule in found:
        assert "for" in rule, f"{rule['alert']} has no `for:`"
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        for key in ("summary", "description"):
            text = rule["annotations"][key]
            assert any("\u4e00" <= ch <= "\u9fff" for ch in text), f"{rule['alert']} {key} has no Chinese"
            assert any(ch.isascii() and ch.isalpha() for ch in text), f"{rule['alert']} {key} has no English"


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    """Each alert name has a test case where it fires and one where it is expected not to."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in rules()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown quiet or cleared"
    # Both severities of a two-level alert are shown firing.
    for name in names:
        levels = {rule["labels"]["severity"] for rule in rules() if rule["alert"] == name}
        shown = {alert["exp_labels"]["severity"] for path in TEST_FILES
                 for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
                 for check in case.get("alert_rule_test", []) if check["alertname"] == name
                 for alert in check.get("exp_alerts") or []}
        assert levels <= shown, f"{name}: severities {levels - shown} never shown firing"
