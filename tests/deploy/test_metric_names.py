"""Every metric an alert rule or a dashboard names is one the hub exports, with the labels it has: a
renamed metric or label breaks this test, not a county's alerting. The exported metrics are read from
prometheus_client's registry after importing hub/core/metrics.py and every registered part's
metrics.py. Dashboard queries are also parsed by `promtool check rules`."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from connectors.registry import CONNECTORS
from consumers.registry import CONSUMERS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULE_FILES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
# Labels Prometheus adds at scrape time (the `hub-connectors` job's targets name their member), and
# the histogram bucket bound.
SCRAPE_LABELS = {"job", "instance", "facility"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("", "_sum", "_count", "_created"), "gauge": ("",), "info": ("_info",)}
METRIC = re.compile(r"\bhub_[a-z0-9_]+\b")
SELECTOR = re.compile(r"\b(hub_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
LABEL_VALUES = re.compile(r"label_values\(\s*(hub_[a-z0-9_]+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)")
LABEL_REPLACE = re.compile(r'label_replace\(.*?,\s*"([a-zA-Z_][a-zA-Z0-9_]*)"', re.DOTALL)


@dataclass(frozen=True)
class Exported:
    family: str
    labels: frozenset[str]


def exported() -> dict[str, Exported]:
    """Sample name (with its _total/_bucket/... suffix) -> the family it belongs to and its labels."""
    importlib.import_module("hub.core.metrics")
    for target in (*CONSUMERS.values(), *CONNECTORS.values()):
        package = target.partition(":")[0].rpartition(".")[0]
        if importlib.util.find_spec(f"{package}.metrics") is not None:
            importlib.import_module(f"{package}.metrics")
    names: dict[str, Exported] = {}
    # prometheus_client keeps a metric's label names only on the collector (there is no public getter).
    labels_of = {name: frozenset(getattr(collector, "_labelnames", ()))
                 for collector, collector_names in REGISTRY._collector_to_names.items() for name in collector_names}
    for family in REGISTRY.collect():
        labels = labels_of.get(family.name, frozenset())
        for suffix in SUFFIXES.get(family.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            names[family.name + suffix] = Exported(family.name, labels | extra)
    return names


def rule_exprs() -> list[tuple[str, str]]:
    return [(f"{path.name}: {rule['alert']}", rule["expr"]) for path in RULE_FILES
            for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            found += [(f"{path.name}: {panel['title']}", t["expr"]) for t in panel.get("targets", [])]
        for variable in board["templating"]["list"]:
            found.append((f"{path.name}: ${variable['name']}", variable["definition"]))
    return found


def test_the_registry_holds_the_parts_metrics() -> None:
    names = exported()
    # one from the core, one from a consumer part, a histogram's buckets and a counter's _total
    assert {"hub_consumer_lag_seconds", "hub_reading_at_risk", "hub_event_latency_seconds_bucket",
            "hub_dead_letters_total"} <= set(names)
    assert "hub_dead_letters" not in names and "hub_event_latency_seconds" not in names
    assert names["hub_event_latency_seconds_bucket"].labels == {"consumer", "topic", "facility", "le"}


@pytest.mark.parametrize(("where", "expr"), rule_exprs() + dashboard_exprs())
def test_every_metric_and_label_named_is_exported(where: str, expr: str) -> None:
    names = exported()
    used = set(METRIC.findall(expr))
    unknown = sorted(name for name in used if name not in names)
    assert not unknown, f"{where} names metrics the hub does not export: {unknown}"
    available = SCRAPE_LABELS.union(*(names[name].labels for name in used))
    available |= set(LABEL_REPLACE.findall(expr))  # labels the expression makes itself
    for metric, matchers in SELECTOR.findall(expr):
        wrong = set(MATCHER.findall(matchers)) - names[metric].labels - SCRAPE_LABELS
        assert not wrong, f"{where}: {metric} has no label {sorted(wrong)}"
    for grouping in GROUPING.findall(expr):
        wrong = {label.strip() for label in grouping.split(",") if label.strip()} - available
        assert not wrong, f"{where}: grouping by labels no metric of it has: {sorted(wrong)}"
    for metric, label in LABEL_VALUES.findall(expr):
        assert label in names[metric].labels, f"{where}: {metric} has no label {label}"


def test_the_checks_catch_a_wrong_name() -> None:
    with pytest.raises(AssertionError, match="does not export"):
        test_every_metric_and_label_named_is_exported("x", "rate(hub_dead_letter_total[5m])")
    with pytest.raises(AssertionError, match="no label"):
        test_every_metric_and_label_named_is_exported("x", 'hub_outbox_backlog{consumer="a"}')
    with pytest.raises(AssertionError, match="grouping"):
        test_every_metric_and_label_named_is_exported("x", "sum by (centre) (hub_outbox_backlog)")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing: `make tools` installs it")
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule, Grafana's variables replaced by values."""
    def concrete(expr: str) -> str:
        expr = expr.replace("$__rate_interval", "5m").replace("$__range", "1h").replace("$__interval", "1m")
        return re.sub(r"\$[a-z_]+", ".*", expr)
    queries = [concrete(expr) for where, expr in dashboard_exprs() if not expr.startswith("label_values(")]
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query:{index}", "expr": expr} for index, expr in enumerate(queries)]}]}
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
