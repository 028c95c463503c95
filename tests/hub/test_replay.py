"""`hub replay`: a connector's retained outbox is published again, and consumers skip it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hub.core.config import HubSettings
from hub.core.topics import spec_for
from tests.factories import random_events
from tests.hub.test_consuming import publish
from tests.hub.test_outbox import read_all

pytestmark = pytest.mark.broker


def test_hub_replay_republishes_the_retained_outbox(broker_settings: HubSettings, tmp_path: Path) -> None:
    publish(broker_settings, random_events(40, patients=10))
    config = tmp_path / "th01-his.yaml"
    config.write_text(yaml.safe_dump({"name": "th01-his", "kind": "his_db", "facility_id": "th01",
                                      "options": {"database_url": "sqlite://", "mapping": "vendor_a"}}))
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": broker_settings.bootstrap, "HUB_DATA_DIR": str(broker_settings.data_dir),
           "HUB_TOPIC_PREFIX": broker_settings.topic_prefix, "HUB_DATABASE_URL": broker_settings.db_url}
    result = subprocess.run([sys.executable, "-m", "hub.app.cli", "replay", str(config), "--topic",
                             spec_for("encounter").topic(broker_settings)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("republished 30 events (30 marked) from th01-his")
    assert len(read_all(broker_settings, spec_for("encounter").topic(broker_settings), 60)) == 60

    bad = subprocess.run([sys.executable, "-m", "hub.app.cli", "replay", str(config), "--since", "last tuesday"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--since 'last tuesday' is not an ISO date" in bad.stderr
