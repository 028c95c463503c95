"""The command line: every command has --help; mistakes are one clear line and a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consumers.registry import CONSUMERS

COMMANDS = [
    ["run"], ["broker"], ["connector", "run"], ["connector", "check"], ["connector", "backfill"], ["consumer", "run"], ["status"],
    ["dlq", "list"], ["dlq", "show"], ["dlq", "replay"], ["replay"], ["bench"], ["mpi", "evaluate"], ["mpi", "rematch"],
    ["token", "create"], ["token", "list"], ["token", "revoke"], ["token", "rotate"],
    ["user", "create"], ["user", "list"], ["user", "disable"], ["user", "passwd"],
    ["indicators", "import-insurance"], ["indicators", "show"],
]


def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.app.cli", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = hub(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_unknown_consumer_is_one_line(tmp_path: Path) -> None:
    result = hub("consumer", "run", "nope", env={"HUB_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip() .splitlines()[-1] == (
        "hub: error: unknown consumer 'nope'; known consumers: " + ", ".join(sorted(CONSUMERS))
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read connector config"),
        ("name: [unclosed", "not valid YAML"),
        ("name: th01-his\nkind: his_db\n", "facility_id: Field required"),
        ("name: th01-his\nkind: fax\nfacility_id: th01\n", "unknown connector kind 'fax'"),
    ],
    ids=["missing", "bad-yaml", "missing-field", "unknown-kind"],
)
def test_bad_connector_config_is_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = hub("connector", "check", str(path), env={"HUB_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    result = hub("status", env={"HUB_HTTP_PORT": "eighty"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hub: error: setting HUB_HTTP_PORT: Input should be a valid integer, unable to parse string as an integer (got 'eighty')"
    ]


def test_connector_check_prints_fhir_and_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "mllp.yaml"
    config.write_text("name: county-mllp\nkind: mllp\nfacility_id: cty01\n", encoding="utf-8")
    good = ("MSH|^~\\&|HIS|TH01|HUB|CTY01|20261123083000||ADT^A04|S1|P|2.4|||||CHN|UNICODE UTF-8\n"
            "PID|1||42^^^TH01^MR||张^伟||19800101|M\nPV1|1|O|||||||||||||||||V1\n")
    bad = "MSH|^~\\&|HIS|TH01|HUB|CTY01|20261123083000||ADT^A04|S2|P|2.4\nPID|1||43^^^TH01^MR||\"\"||19800101|M\nPV1|1|O\n"
    # A malformed optional field is no reason to refuse: the event is kept, flagged, and noted.
    odd = "MSH|^~\\&|HIS|TH01|HUB|CTY01|20261123083000||ADT^A04|S3|P|2.4\nPID|1||44^^^TH01^MR||张^伟||1980-99-01|M\nPV1|1|O\n"
    sample = tmp_path / "sample.hl7"
    sample.write_text(good, encoding="utf-8")
    result = hub("connector", "check", str(config), "--sample", str(sample), env={"HUB_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert '"text": "张伟"' in result.stdout and result.stdout.strip().endswith("2 events, 0 problems, 0 notes")
    sample.write_text(good + "\n" + bad + "\n" + odd, encoding="utf-8")
    result = hub("connector", "check", str(config), "--sample", str(sample), env={"HUB_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "! rejected at PID-5" in result.stdout and "1 problems" in result.stdout
    assert "! flag: data-quality:PID-7:invalid-date" in result.stdout and "! note: PID-7: PID-7 '1980-99-01'" in result.stdout
    assert result.stdout.strip().endswith("4 events, 1 problems, 1 notes")


def test_mpi_evaluate_reports_precision_and_recall(tmp_path: Path) -> None:
    result = hub("mpi", "evaluate", "--records", "600", env={"HUB_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["records"] == 600
    assert figures["precision"] >= 0.99 and figures["recall_links_and_reviews"] >= 0.95
    assert "precision of automatic links" in result.stdout


def test_bad_matching_rules_are_one_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("thresholds: {link: 1}\n", encoding="utf-8")
    result = hub("mpi", "rematch", env={"HUB_DATA_DIR": str(tmp_path), "HUB_MATCH_RULES": str(rules)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"hub: error: {rules}: thresholds.possible")


def test_mpi_rematch_on_an_empty_index(tmp_path: Path) -> None:
    result = hub("mpi", "rematch", env={"HUB_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("re-matched 0 links under rules ")
