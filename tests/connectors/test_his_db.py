"""The HIS database poller and its mapping language."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import MetaData, create_engine, text, update
from sqlalchemy.engine import Engine

from connectors.his_db.connector import HisDbConnector
from connectors.his_db.mapping import load_mapping, map_row
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.events import PollResult
from hub.core.fhir import validate_resource
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.tools.demo.county import build_county
from hub.tools.demo.generator import CountySimulator
from hub.tools.demo.his_schemas import SCHEMAS
from hub.tools.scratch import scratch_url

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")


def connector_for(url: str, vendor: str, facility: str = "th01", batch: int = 500) -> HisDbConnector:
    config = ConnectorConfig(name=f"{facility}-his", kind="his_db", facility_id=facility, batch_size=batch,
                             options={"database_url": url, "mapping": vendor})
    return HisDbConnector(config, HubSettings())


def drain(connector: HisDbConnector, checkpoints: dict[str, str] | None = None) -> tuple[list, dict[str, str]]:
    checkpoints = dict(checkpoints or {})
    results = []
    while True:
        result = connector.poll(checkpoints)
        if result.empty:
            return results, checkpoints
        results.append(result)
        checkpoints.update(result.checkpoints)


def empty_his(tmp_path: Path) -> tuple[str, Engine, MetaData]:
    """A vendor_b HIS in a SQLite file, with its tables and no rows."""
    url = f"sqlite:///{tmp_path / 'his.db'}"
    engine = create_engine(url)
    tables = SCHEMAS["vendor_b"](MetaData())
    tables.create_all(engine)
    return url, engine, tables


@pytest.fixture
def county(tmp_path: Path):
    county = build_county(tmp_path)
    simulator = CountySimulator(county, seed=11)
    simulator.seed_population(patients_per_facility=8)
    simulator.step(600)
    yield county, simulator
    simulator.close()


@pytest.mark.parametrize("facility", ["cty01", "th01"], ids=["vendor_a", "vendor_b"])
def test_every_row_maps_to_valid_fhir_through_the_sink(county, facility: str, tmp_path: Path) -> None:
    county, _ = county
    member = county.facility(facility)
    connector = connector_for(member.database_url, member.vendor, facility, batch=97)
    results, checkpoints = drain(connector)
    events = [e for r in results for e in r.events]
    rejected = [x for r in results for x in r.rejected]
    assert {e.event_type for e in events} >= {"patient", "encounter", "prescription", "lab_result"}
    for event in events:
        for resource in (event.resource, *event.related):
            validate_resource(resource)
    assert rejected == []  # a hospital-made drug nobody mapped is kept, not rejected
    local = [e for e in events if e.event_type == "prescription" and e.flags == ("unmapped-local-drug-code",)]
    assert all(c["system"] == f"urn:hub:code:local-drug:{facility}"
                         for e in local for c in e.resource["medicationCodeableConcept"]["coding"])
    dosed = [e.resource["dosageInstruction"][0] for e in events if e.event_type == "prescription"]
    assert all("repeat" in d["timing"] and "route" in d for d in dosed)
    assert sum("doseAndRate" in d for d in dosed) > len(dosed) * 0.8
    reports = [e for e in events if e.event_type == "lab_result"]
    assert all(len(e.related) == len(e.resource["result"]) > 0 for e in reports)
    settings = HubSettings(data_dir=tmp_path)
    sink = Sink(connector.config.name, facility, Outbox(tmp_path / "o.db", "o"), EventCodec(FileSchemaRegistry()),
                settings)
    report = sink.accept(PollResult(events=events, rejected=rejected, checkpoints=checkpoints))
    assert report.accepted == len(events) and report.rejected == len(rejected)


def test_checkpoints_resume_and_rereads_keep_their_ids(county) -> None:
    county, simulator = county
    member = county.facility("th01")
    connector = connector_for(member.database_url, member.vendor, batch=50)
    first = connector.poll({})
    again = connector.poll({})
    assert [e.event_id for e in first.events] == [e.event_id for e in again.events]
    _, checkpoints = drain(connector)
    assert connector.poll(checkpoints).empty  # nothing new after the last row
    new: list = []
    for _ in range(50):  # the simulator mixes the clock into its seed: step until th01 has new rows
        simulator.step(50)
        new, _ = drain(connector, checkpoints)
        if new:
            break
    new_ids = {e.event_id for r in new for e in r.events}
    old_ids = {e.event_id for r in drain(connector)[0] for e in r.events} - new_ids
    assert new_ids and not (new_ids & old_ids)


def test_an_update_is_a_new_version_with_a_new_id(county) -> None:
    county, _ = county
    member = county.facility("cty01")
    connector = connector_for(member.database_url, member.vendor, "cty01")
    _, checkpoints = drain(connector)
    engine = create_engine(member.database_url)
    table = SCHEMAS["vendor_a"](MetaData()).tables["pat_info"]
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.pat_id == "A0000001")
                     .values(phone="13700000000", updated_at="2099-01-01T00:00:00.000000"))
    results, _ = drain(connector, checkpoints)
    events = [e for r in results for e in r.events]
    assert len(events) == 1 and events[0].resource["id"] == "cty01-pat-A0000001"  # record numbers keep their case (ids are injective)
    assert events[0].resource["telecom"][0]["value"] == "13700000000"


def test_rows_with_the_same_change_time_are_not_skipped(tmp_path: Path) -> None:
    url, engine, tables = empty_his(tmp_path)
    same = "2026-11-23 08:00:00.000000"
    with engine.begin() as conn:
        for i in range(5):
            conn.execute(tables.tables["HZXX"].insert().values(BRID=f"{i:010d}", XM="张三", XB="1", CSRQ="19800101",
                                                                SFZH="", LXDH="", JZDZ="", XGSJ=same))
    connector = connector_for(url, "vendor_b", batch=2)
    results, _ = drain(connector)
    assert [e.resource["id"] for r in results for e in r.events] == [f"th01-pat-{i:010d}" for i in range(5)]


def test_a_broken_row_is_rejected_and_the_rest_pass(tmp_path: Path) -> None:
    url, engine, tables = empty_his(tmp_path)
    rows = [
        dict(BRID="0000000001", XM="王秀英", XB="2", CSRQ="19650230", SFZH="", LXDH="", JZDZ="", XGSJ="2026-11-23 08:00:00.000001"),
        dict(BRID="0000000002", XM="李四", XB="7", CSRQ="19700101", SFZH="", LXDH="", JZDZ="", XGSJ="2026-11-23 08:00:00.000002"),
        dict(BRID="0000000003", XM="赵六", XB="1", CSRQ="19700101", SFZH="330122199206105329", LXDH="", JZDZ="",
             XGSJ="2026-11-23 08:00:00.000003"),
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(tables.tables["HZXX"].insert().values(**row))
    result = connector_for(url, "vendor_b").poll({})
    assert [e.resource["id"] for e in result.events] == ["th01-pat-0000000003"]
    assert result.events[0].flags == ("resident-id-check-digit",)
    reasons = [r.reason for r in result.rejected]
    assert "CSRQ" in reasons[0] and "19650230" in reasons[0]
    assert "'7'" in reasons[1] and "code table 'sex'" in reasons[1]
    payload = json.loads(result.rejected[0].payload)
    assert payload["table"] == "HZXX" and payload["row"]["XM"] == "王秀英"
    assert json.loads(result.checkpoints["patients"])["key"] == "0000000003"  # rejected rows are passed, not re-read


def test_unmapped_optional_code_is_kept_and_reported() -> None:
    mapping = load_mapping("vendor_a")
    spec = next(s for s in mapping.tables if s.name == "encounters")
    row = {"visit_id": 1, "pat_id": "A1", "visit_type": "O", "dept": "内科", "doctor": "王医生", "diag_code": "X99.9",
           "diag_name": "未知", "start_time": "2026-11-23 08:00:00", "end_time": None, "status": "finished",
           "updated_at": "2026-11-23T08:00:00.000000"}
    mapped = map_row(spec, row, [], "cty01", mapping)
    assert mapped.resource["reasonCode"][0]["coding"] == [{"system": "urn:hub:facility:cty01:diagnosis", "code": "X99.9"}]
    assert "X99.9" in mapped.notes[0]
    validate_resource(mapped.resource)


@hsettings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(name=st.text(min_size=1, max_size=30).filter(lambda s: s.strip()),
       address=st.sampled_from(["'; DROP TABLE HZXX; --", "<img src=x onerror=alert(1)>", "𠀀𠀁 村", "🙂"])
       | st.text(max_size=40))
def test_names_and_addresses_are_carried_verbatim(name: str, address: str) -> None:
    mapping = load_mapping("vendor_b")
    spec = mapping.tables[0]
    row = {"BRID": "0000000001", "XM": name, "XB": "1", "CSRQ": "19800101", "SFZH": "", "LXDH": "", "JZDZ": address,
           "XGSJ": "2026-11-23 08:00:00.000001"}
    mapped = map_row(spec, row, [], "th01", mapping)
    assert mapped.resource["name"][0]["text"] == name.strip()
    if address.strip():
        assert mapped.resource["address"][0]["text"] == address


@pytest.fixture
def pg_his(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        pytest.skip("HUB_TEST_DATABASE_URL is not set (the PostgreSQL leg runs this)")
    with scratch_url(PG_URL, tmp_path, "his") as url:
        yield url


@pytest.mark.postgres
def test_a_his_on_postgresql(pg_his: str) -> None:
    engine = create_engine(pg_his)
    tables = SCHEMAS["vendor_a"](MetaData())
    tables.create_all(engine)
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(tables.tables["pat_info"].insert().values(
                pat_id=f"A{i:07d}", name="陈静", sex="F", birth_date="1988-02-29", id_no=None, phone="13512345678",
                address="青山县龙门镇", village="东岙村", updated_at=f"2026-11-23T08:00:00.00000{i}"))
    engine.dispose()
    results, _ = drain(connector_for(pg_his, "vendor_a", "cty01", batch=2))
    assert [e.resource["birthDate"] for r in results for e in r.events] == ["1988-02-29"] * 3


def test_rows_deleted_at_the_source_are_published_once(tmp_path: Path) -> None:
    url, engine, tables = empty_his(tmp_path)
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(tables.tables["HZXX"].insert().values(BRID=f"{i:010d}", XM="张三", XB="1", CSRQ="19800101",
                                                                SFZH="", LXDH="", JZDZ="",
                                                                XGSJ=f"2026-11-23 08:00:00.00000{i}"))
    config = ConnectorConfig(name="th01-his", kind="his_db", facility_id="th01",
                             options={"database_url": url, "mapping": "vendor_b", "reconcile_every_s": 0.001})
    connector = HisDbConnector(config, HubSettings(data_dir=tmp_path))
    checkpoints: dict[str, str] = {}
    first = connector.poll(checkpoints)
    checkpoints.update(first.checkpoints)
    assert len(first.events) == 3
    with engine.begin() as conn:
        conn.execute(text('DELETE FROM "HZXX" WHERE "BRID" = \'0000000001\''))
    deletion = connector.poll(checkpoints)
    (event,) = deletion.events
    assert event.resource["id"] == "th01-pat-0000000001" and event.resource["active"] is False
    assert {"system": "urn:hub:tag", "code": "deleted-at-source"} in event.resource["meta"]["tag"]
    validate_resource(event.resource)
    # Not confirmed (the outbox write "crashed"): the deletion is sent again, with the same id.
    again = connector.poll(checkpoints)
    assert [e.event_id for e in again.events] == [event.event_id]
    checkpoints.update(again.checkpoints)
    assert connector.poll(checkpoints).empty  # confirmed: forgotten
    connector.close()


def _patient_row(i: int, stamped: str) -> dict:
    return dict(BRID=f"{i:010d}", XM="张三", XB="1", CSRQ="19800101", SFZH="", LXDH="", JZDZ="", XGSJ=stamped)


def _looking_back(url: str, batch: int = 500, **options: float) -> HisDbConnector:
    config = ConnectorConfig(name="th01-his", kind="his_db", facility_id="th01", batch_size=batch,
                             options={"database_url": url, "mapping": "vendor_b", "reconcile_every_s": 0,
                                      "look_back_s": 60, "look_back_every_s": 0, **options})
    return HisDbConnector(config, HubSettings())


def test_a_row_that_commits_behind_the_read_position_is_read_once(tmp_path: Path) -> None:
    url, engine, tables = empty_his(tmp_path)
    patients = tables.tables["HZXX"]
    with engine.begin() as conn:
        conn.execute(patients.insert().values(**_patient_row(1, "2026-11-23 08:00:10.000000")))
    connector = _looking_back(url)
    results, checkpoints = drain(connector)
    assert [e.resource["id"] for r in results for e in r.events] == ["th01-pat-0000000001"]
    # A transaction that stamped its row at 08:00:05 commits after the 08:00:10 row was read; another
    # stamped 5 minutes before is older than the look-back window.
    with engine.begin() as conn:
        conn.execute(patients.insert().values(**_patient_row(2, "2026-11-23 08:00:05.000000")))
        conn.execute(patients.insert().values(**_patient_row(3, "2026-11-23 07:55:00.000000")))
    late = connector.poll(checkpoints)
    assert [e.resource["id"] for e in late.events] == ["th01-pat-0000000002"]
    assert "committed behind the read position" in late.notes[0]
    assert "patients" not in late.checkpoints  # the position stays where it was
    # Not confirmed (the outbox write "crashed"): read again, with the same event id.
    again = connector.poll(checkpoints)
    assert [e.event_id for e in again.events] == [e.event_id for e in late.events]
    checkpoints.update(again.checkpoints)
    assert connector.poll(checkpoints).empty  # confirmed: never again
    # A row changed behind the position is a new version, read once too.
    with engine.begin() as conn:
        conn.execute(update(patients).where(patients.c.BRID == "0000000002")
                     .values(LXDH="13700000000", XGSJ="2026-11-23 08:00:07.000000"))
    changed = connector.poll(checkpoints)
    assert [e.resource["telecom"][0]["value"] for e in changed.events] == ["13700000000"]
    checkpoints.update(changed.checkpoints)
    assert connector.poll(checkpoints).empty


def test_without_looking_back_a_late_row_is_lost(tmp_path: Path) -> None:
    """The defect the look-back cures, shown with it turned off."""
    url, engine, tables = empty_his(tmp_path)
    with engine.begin() as conn:
        conn.execute(tables.tables["HZXX"].insert().values(**_patient_row(1, "2026-11-23 08:00:10.000000")))
    connector = _looking_back(url, look_back_s=0)
    _, checkpoints = drain(connector)
    with engine.begin() as conn:
        conn.execute(tables.tables["HZXX"].insert().values(**_patient_row(2, "2026-11-23 08:00:05.000000")))
    assert connector.poll(checkpoints).empty


def test_a_restarted_connector_sends_its_window_again_as_duplicates(tmp_path: Path) -> None:
    url, engine, tables = empty_his(tmp_path)
    with engine.begin() as conn:
        for i in range(4):
            conn.execute(tables.tables["HZXX"].insert().values(**_patient_row(i, f"2026-11-23 08:00:0{i}.000000")))
    outbox = Outbox(tmp_path / "o.db", "o")
    sink = Sink("th01-his", "th01", outbox, EventCodec(FileSchemaRegistry()), HubSettings(data_dir=tmp_path))
    first = _looking_back(url)
    assert sink.accept(first.poll(sink.checkpoints())).accepted == 4
    assert first.poll(sink.checkpoints()).empty
    first.close()
    restarted = _looking_back(url)  # knows nothing of what was sent: the window is read again
    again = restarted.poll(sink.checkpoints())
    assert len(again.events) == 4 and "sent again after a start" in again.notes[0]
    assert sink.accept(again).accepted == 0  # the outbox knows them all: nothing is published twice
    assert restarted.poll(sink.checkpoints()).empty
    restarted.close()


@pytest.mark.postgres
def test_concurrent_his_transactions_on_postgresql_lose_no_row(pg_his: str) -> None:
    """Two real transactions: the first stamps its row, the second stamps a later one and commits
    first; the connector reads in between. The first row commits behind the read position."""
    engine = create_engine(pg_his)
    tables = SCHEMAS["vendor_b"](MetaData())
    tables.create_all(engine)
    patients = tables.tables["HZXX"]
    connector = _looking_back(pg_his)
    with engine.connect() as slow:
        slow_transaction = slow.begin()
        slow.execute(patients.insert().values(**_patient_row(1, "2026-11-23 08:00:01.000000")))
        with engine.begin() as quick:
            quick.execute(patients.insert().values(**_patient_row(2, "2026-11-23 08:00:02.000000")))
        seen, checkpoints = drain(connector)
        assert [e.resource["id"] for r in seen for e in r.events] == ["th01-pat-0000000002"]
        slow_transaction.commit()
    late, checkpoints = drain(connector, checkpoints)
    assert [e.resource["id"] for r in late for e in r.events] == ["th01-pat-0000000001"]
    assert connector.poll(checkpoints).empty
    connector.close()
    engine.dispose()


def test_a_look_back_cut_short_by_the_batch_goes_on_at_the_next_poll(tmp_path: Path) -> None:
    url, engine, tables = empty_his(tmp_path)
    with engine.begin() as conn:
        for i in range(2):
            conn.execute(tables.tables["HZXX"].insert().values(**_patient_row(i, f"2026-11-23 08:00:0{i}.000000")))
            conn.execute(tables.tables["JZJL"].insert().values(
                JZID=i + 1, BRID=f"{i:010d}", MZZY="1", KSMC="内科", YSXM="王医生", ZDDM="", ZDMC="",
                KSSJ="2026-11-23 08:00:00", JSSJ="", ZT="1", XGSJ=f"2026-11-23 08:00:0{i}.000000"))
    outbox = Outbox(tmp_path / "o.db", "o")
    sink = Sink("th01-his", "th01", outbox, EventCodec(FileSchemaRegistry()), HubSettings(data_dir=tmp_path))
    first = _looking_back(url)
    sink.accept(first.poll(sink.checkpoints()))
    first.close()
    # Restarted with a batch of 2 and no near look due: the whole window, two rows a poll.
    restarted = _looking_back(url, batch=2, look_back_every_s=30)
    tables_read = []
    while not (result := restarted.poll(sink.checkpoints())).empty:
        tables_read.append({p.split(":")[0] for p in [e.source.position for e in result.events]
                            + [r.position for r in result.rejected]})
        sink.accept(result)
    assert tables_read == [{"HZXX"}, {"JZJL"}]
    restarted.close()
