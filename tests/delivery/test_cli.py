"""`hub delivery ...` and `hub consumer run delivery`: help, and mistakes as one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.core.config import HubSettings
from hub.core.db import Database
from tests.delivery.factories import report_event
from tests.delivery.harness import member_config, mllp, queue_results


def hub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.app.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"HUB_DATA_DIR": str(tmp_path), "HUB_DATABASE_URL": database_url, "HUB_KAFKA_BOOTSTRAP": "127.0.0.1:1"}


@pytest.mark.parametrize("command", [["delivery", "list"], ["delivery", "refused"], ["delivery", "retry"]], ids=" ".join)
def test_every_delivery_command_has_help(command: list[str], tmp_path: Path) -> None:
    result = hub(*command, "--help", env={"HUB_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_a_delivery_consumer_told_of_no_member_refuses_to_start(tmp_path: Path, database_url: str) -> None:
    result = hub("consumer", "run", "delivery", env=environment(tmp_path, database_url))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(
        "hub: error: delivery needs the members' connector configs to know where results go")


def test_list_refused_and_retry(tmp_path: Path, database_url: str, db: Database, settings: HubSettings) -> None:
    config = member_config("th01", mllp(9))
    queue_results(db, settings, config, report_event("th01", "1"))
    listed = hub("delivery", "list", env=environment(tmp_path, database_url))
    assert listed.returncode == 0, listed.stderr
    assert "th01/mllp" in listed.stdout and "not configured" in listed.stdout  # no sender has registered it
    refused = hub("delivery", "refused", env=environment(tmp_path, database_url))
    assert refused.stdout.strip().endswith("0 refused messages")
    nothing = hub("delivery", "retry", env=environment(tmp_path, database_url))
    assert nothing.stderr.strip() == ("hub: error: name message numbers (from `hub delivery refused`), or --destination")
    assert nothing.returncode == 2
