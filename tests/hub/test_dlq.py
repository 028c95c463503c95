"""`hub dlq`: a row the mapping rejected is re-ingested once the mapping is fixed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import MetaData, create_engine

from connectors.his_db.connector import HisDbConnector
from consumers.dead_letters.consumer import DeadLetterStore
from hub.app.dead_letters import get_dead_letter, list_dead_letters, replay_dead_letters
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.connector_runtime import ConnectorRuntime
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.topics import DEAD_LETTER, spec_for
from hub.tools.demo.his_schemas import SCHEMAS
from tests.hub.test_outbox import read_all

pytestmark = pytest.mark.broker
MAPPINGS = Path(__file__).resolve().parents[2] / "connectors" / "his_db" / "mappings"


def test_fix_the_mapping_then_replay(broker_settings: HubSettings, db: Database, tmp_path: Path) -> None:
    his = f"sqlite:///{tmp_path / 'his.db'}"
    engine = create_engine(his)
    tables = SCHEMAS["vendor_a"](MetaData())
    tables.create_all(engine)
    with engine.begin() as conn:
        # A visit status the vendor added after the mapping was written: a required code, so the row is
        # rejected (an unmapped drug is not: it is kept for the pharmacy's mapping queue).
        conn.execute(tables.tables["op_visit"].insert().values(
            visit_id=1, pat_id="A1", visit_type="O", dept="全科", doctor="张医生", diag_code="I10",
            diag_name="原发性高血压", start_time="2026-11-23 08:00:00", end_time=None, status="triaged",
            updated_at="2026-11-23T08:00:00.000001"))
    config_path = tmp_path / "cty01-his.yaml"
    config_path.write_text(yaml.safe_dump({"name": "cty01-his", "kind": "his_db", "facility_id": "cty01",
                                           "options": {"database_url": his, "mapping": "vendor_a"}}))
    runtime = ConnectorRuntime.build(ConnectorConfig.load(config_path), broker_settings, HisDbConnector)
    runtime.sink.accept(runtime.connector.poll({}))
    (letter,) = runtime.outbox.pending(10)
    assert letter.record.topic == DEAD_LETTER.topic(broker_settings)
    with db.transaction() as session:  # what the dead_letters consumer does with it
        DeadLetterStore().apply(session, Delivery(letter.record.topic, 0, 0, letter.record.key, letter.record.value,
                                                  letter.record.headers, 0))
    (row,) = list_dead_letters(db)
    assert "'triaged'" in row.reason and row.origin == "cty01-his"

    # Still failing with the old mapping: nothing is marked replayed.
    report = replay_dead_letters(broker_settings, db, [row.id], config=config_path)
    assert report.failed == 1 and "still failing" in report.lines[0]

    # The IT team adds the new status to its own copy of the mapping.
    mapping = yaml.safe_load((MAPPINGS / "vendor_a.yaml").read_text(encoding="utf-8"))
    mapping["code_tables"]["visit_status"]["triaged"] = "arrived"
    (tmp_path / "vendor_a_cty01.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    config_path.write_text(yaml.safe_dump({"name": "cty01-his", "kind": "his_db", "facility_id": "cty01",
                                           "options": {"database_url": his, "mapping": "vendor_a_cty01.yaml"}}))
    report = replay_dead_letters(broker_settings, db, [row.id], config=config_path)
    assert (report.replayed, report.failed) == (1, 0)
    assert get_dead_letter(db, row.id).replayed_at is not None
    (message,) = read_all(broker_settings, spec_for("encounter").topic(broker_settings), 1)
    assert message.key == b"cty01/A1"

    env = {**os.environ, "HUB_DATABASE_URL": db.url, "HUB_DATA_DIR": str(broker_settings.data_dir)}
    shown = subprocess.run([sys.executable, "-m", "hub.app.cli", "dlq", "show", row.id], env=env, capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0 and "triaged" in shown.stdout and "replayed_at" in shown.stdout
    missing = subprocess.run([sys.executable, "-m", "hub.app.cli", "dlq", "show", "nope"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and "hub dlq list" in missing.stderr
