"""The demo county's pharmacies through the real path: stock rows in two vendors' HIS tables, the HIS-database
connector publishing them to hub.stock.v1 on the real broker, the supply consumer turning them into stock
levels and warnings (a village low on metformin, two of them a county shortage, one out of amlodipine)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.his_db.connector import HisDbConnector
from consumers.drug_supply.models import StockLevel, StockWarning
from hub.app import parts as registered
from hub.core import kafka_io
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.connector_runtime import ConnectorRuntime
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.parts import PartContext
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from hub.tools.demo.county import build_county
from hub.tools.demo.stock_keeper import StockKeeper
from tests.drug_supply.factories import results_outbox
from tests.hub.test_outbox import read_all
from tests.waiting import wait_for

pytestmark = pytest.mark.broker
MEMBERS = ("vc02", "vc03", "vc06")  # vendor_a, vendor_b, vendor_a


def open_warnings(db: Database) -> set[tuple[str, str, str]]:
    with db.reading() as session:
        return {(w.kind, w.facility_id, w.drug_key) for w in
                session.scalars(select(StockWarning).where(StockWarning.status == "open"))}


def member_levels(db: Database) -> int:
    with db.reading() as session:
        return len(session.scalars(select(StockLevel).where(StockLevel.facility_id.in_(MEMBERS))).all())


def test_his_stock_rows_reach_the_supply_consumer_through_the_broker(broker_settings: HubSettings, db: Database,
                                                                      tmp_path: Path) -> None:
    county = build_county(tmp_path)
    keeper = StockKeeper(county)
    assert keeper.seed_stock() > 0
    assert keeper.seed_stock() == 0  # a restart does not count again
    kafka_io.ensure_topics(broker_settings)
    codec = EventCodec(FileSchemaRegistry(), broker_settings.topic_prefix)
    configs = [ConnectorConfig.load(p) for p in county.connector_configs if p.name.split("-")[0] in MEMBERS]
    assert {c.parent_facility for c in configs} == {"th01", "th02"}
    runtimes = [ConnectorRuntime.build(c, broker_settings, HisDbConnector, codec) for c in configs]
    consumer = registered.consumer_class("drug_supply")(broker_settings)
    consumer.bind(PartContext(broker_settings, db, registered.services(), results_outbox(broker_settings, db)))
    stop = threading.Event()
    threads = [t for r in runtimes for t in r.threads(stop)]
    threads.append(threading.Thread(target=ConsumerRunner(consumer, broker_settings, db, codec).run, args=(stop,),
                                    daemon=True))
    for thread in threads:
        thread.start()
    try:
        wanted = {("low", "vc02", "D0011"), ("low", "vc06", "D0011"), ("stockout", "vc03", "D0006"),
                  ("shortage", "county", "D0011")}
        # The warnings can stand before the last member's rows are applied: wait for both, then stop.
        wait_for(lambda: wanted <= open_warnings(db) and member_levels(db) == 8 * 3, timeout_s=90)
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)
        for runtime in runtimes:
            runtime.connector.close()
    with db.reading() as session:
        level = session.get(StockLevel, ("vc03", "D0006"))
        assert level is not None and level.on_hand == 0 and level.daily_use > 0
    keys = {m.key for m in read_all(broker_settings, spec_for("stock").topic(broker_settings), 10)}
    assert any(key.startswith(b"vc03/YP") for key in keys)  # keyed facility/the member's drug code
