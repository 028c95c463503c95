"""Progress of long command-line work: drawn on stderr with count, rate and time left when forced (or on a
terminal); nothing at all when stderr is not a terminal, or with --quiet, so scripts see only stdout."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from consumers.dead_letters.consumer import DeadLetterStore
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.dead_letter import DeadLetterInfo
from hub.core.progress import ProgressBar, wanted
from tests.factories import random_events
from tests.hub.test_consuming import publish

ESC = "\x1b["


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def hub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.app.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_progress_is_drawn_only_where_a_person_watches() -> None:
    assert wanted("auto", stream=Terminal()) and not wanted("auto", stream=io.StringIO())
    assert not wanted("auto", quiet=True, stream=Terminal()) and not wanted("always", as_json=True)
    assert wanted("always", stream=io.StringIO()) and not wanted("never", stream=Terminal())


def test_a_shown_bar_reports_count_rate_and_time_and_a_hidden_one_writes_nothing() -> None:
    shown = io.StringIO()
    with ProgressBar("loading", 120, True, unit="records", stream=shown) as bar:
        for _ in range(4):
            bar.advance(30)
    text = shown.getvalue()
    assert "loading" in text and "120/120" in text and "records/s" in text and "taken" in text
    hidden = io.StringIO()
    with ProgressBar("loading", 120, False, stream=hidden) as bar:
        bar.advance(120)
    assert bar.done == 120 and hidden.getvalue() == ""


@pytest.mark.broker
def test_hub_replay_is_quiet_in_a_pipe_and_reports_totals_when_forced(broker_settings: HubSettings,
                                                                       tmp_path: Path) -> None:
    publish(broker_settings, random_events(40, patients=10))
    config = tmp_path / "th01-his.yaml"
    config.write_text(yaml.safe_dump({"name": "th01-his", "kind": "his_db", "facility_id": "th01",
                                      "options": {"database_url": "sqlite://", "mapping": "vendor_a"}}))
    env = {"HUB_KAFKA_BOOTSTRAP": broker_settings.bootstrap, "HUB_DATA_DIR": str(broker_settings.data_dir),
           "HUB_TOPIC_PREFIX": broker_settings.topic_prefix, "HUB_DATABASE_URL": broker_settings.db_url}

    piped = hub("replay", str(config), env=env)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "republished 40 events (40 marked) from th01-his\n"
    assert "republishing" not in piped.stderr and ESC not in piped.stderr

    forced = hub("replay", str(config), env={**env, "HUB_PROGRESS": "always"})
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == piped.stdout  # stdout is the same for scripts either way
    assert "republishing th01-his" in forced.stderr and "40/40" in forced.stderr and "events/s" in forced.stderr

    quiet = hub("replay", str(config), "--quiet", env={**env, "HUB_PROGRESS": "always"})
    assert quiet.returncode == 0 and "republishing" not in quiet.stderr and ESC not in quiet.stderr


def test_dlq_replay_counts_every_dead_letter(settings: HubSettings, db: Database) -> None:
    for n in range(3):
        headers = DeadLetterInfo(reason="no patient id", stage="map", origin="th01-his",
                                 event_id=f"dlq-progress-{n}").to_headers()
        with db.transaction() as session:
            DeadLetterStore().apply(session, Delivery("hub.dead-letter.v1", 0, n, b"th01/1", b"{}", tuple(headers), 0))
    env = {"HUB_DATA_DIR": str(settings.data_dir), "HUB_DATABASE_URL": settings.db_url, "HUB_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    forced = hub("dlq", "replay", "--all", env={**env, "HUB_PROGRESS": "always"})
    assert forced.returncode == 1  # connector rejections need --config: each still counted
    assert "replaying dead letters" in forced.stderr and "3/3" in forced.stderr and "letters/s" in forced.stderr
    assert forced.stdout.strip().endswith("0 replayed, 3 still failing")
    piped = hub("dlq", "replay", "--all", env=env)
    assert "replaying" not in piped.stderr and ESC not in piped.stderr and piped.stdout == forced.stdout


def test_mpi_rematch_and_bulk_loads_show_progress_when_forced(tmp_path: Path) -> None:
    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_PROGRESS": "always"}
    rematch = hub("mpi", "rematch", env=env)
    assert rematch.returncode == 0, rematch.stderr
    assert "re-matching links" in rematch.stderr and "0/0" in rematch.stderr
    loaded = hub("mpi", "evaluate", "--records", "200", env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "loading registrations" in loaded.stderr and "200/200" in loaded.stderr and "records/s" in loaded.stderr
