"""The Alembic migrations build exactly the tables the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from hub.app import parts as registered
from hub.core.db import Database
from hub.core.db.migrate import alembic_config
from hub.core.db.models import Base


def _config(db: Database) -> Config:
    """The core's history and every registered part's branch, with their tables in the metadata."""
    return alembic_config(db.engine, registered.migration_locations(), registered.model_modules())


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diffs == []


def test_downgrade_and_upgrade_again(db: Database) -> None:
    config = _config(db)
    command.downgrade(config, "0001")
    command.upgrade(config, "heads")
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_0004i_files_stored_results_under_the_patient_they_name(db: Database) -> None:
    """Before 0004i a lower-cased id (PID-3 `OBS-T1` -> Patient/th01-pat-obs-t1) could leave a result
    under another key than its Patient's; the migration files it under the Patient it names."""
    config = _config(db)
    command.downgrade(config, "0003")
    rows = [
        ("Patient", "th01-pat-obs-t1", "th01", "th01/OBS-T1", '{"resourceType": "Patient"}'),
        ("Observation", "th01-obs-1", "th01", "th01/obs-t1",
         '{"resourceType": "Observation", "subject": {"reference": "Patient/th01-pat-obs-t1"}}'),
        ("Observation", "th02-obs-1", "th02", "th02/obs-t1",  # another member's: never moved
         '{"resourceType": "Observation", "subject": {"reference": "Patient/th01-pat-obs-t1"}}'),
    ]
    with db.engine.begin() as connection:
        for rtype, rid, facility, key, content in rows:
            connection.execute(text(
                "INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, occurred_at, facility_id, "
                "patient_key, golden, content) VALUES (:t, :i, 1, :now, :now, :f, :k, :g, :c)"),
                {"t": rtype, "i": rid, "now": "2026-11-23 00:00:00+00:00", "f": facility, "k": key, "g": False,
                 "c": content})
    command.upgrade(config, "heads")
    with db.engine.connect() as connection:
        found = dict(connection.execute(text("SELECT id, patient_key FROM fhir_resource")).all())
        subjects = dict(connection.execute(text("SELECT id, subject_id FROM fhir_resource")).all())
    assert found == {"th01-pat-obs-t1": "th01/OBS-T1", "th01-obs-1": "th01/OBS-T1", "th02-obs-1": "th02/obs-t1"}
    assert subjects["th01-obs-1"] == "th01-pat-obs-t1" and subjects["th01-pat-obs-t1"] is None


def test_rs0002h_keeps_each_stored_resource_as_its_first_known_version(db: Database) -> None:
    """A database from before the history serves vread of what it holds: the current version of each
    resource becomes a history row, with its facility and whether it is a community record."""
    config = _config(db)
    command.downgrade(config, "rs0001")
    with db.engine.begin() as connection:
        for rid, version, facility, golden in (("th01-enc-1", 3, "th01", False), ("cp-1", 1, None, True)):
            connection.execute(text(
                "INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, occurred_at, facility_id, "
                "patient_key, golden, content) VALUES ('Encounter', :i, :v, :now, :now, :f, NULL, :g, :c)"),
                {"i": rid, "v": version, "now": "2026-11-23 00:00:00+00:00", "f": facility, "g": golden,
                 "c": f'{{"resourceType": "Encounter", "id": "{rid}"}}'})
    command.upgrade(config, "heads")
    with db.engine.connect() as connection:
        kept = connection.execute(text(
            "SELECT id, version_id, facility_id, golden, deleted, content FROM fhir_resource_history ORDER BY id")).all()
    assert [(r[0], r[1], r[2], bool(r[3]), bool(r[4])) for r in kept] == [
        ("cp-1", 1, None, True, False), ("th01-enc-1", 3, "th01", False, False)]
    assert kept[1][5] == '{"resourceType": "Encounter", "id": "th01-enc-1"}'


def test_rs0003_indexes_what_is_stored_for_search(db: Database) -> None:
    """A database from before the search index finds its patients by name, pinyin and initials at once."""
    config = _config(db)
    command.downgrade(config, "rs0002h")
    patient = '{"resourceType": "Patient", "id": "th01-pat-9", "name": [{"text": "王秀英"}], "birthDate": "1962-03-05"}'
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, occurred_at, facility_id, "
            "patient_key, golden, content) VALUES ('Patient', 'th01-pat-9', 1, :now, :now, 'th01', 'th01/9', :g, :c)"),
            {"now": "2026-11-23 00:00:00+00:00", "g": False, "c": patient})
    command.upgrade(config, "heads")
    with db.engine.connect() as connection:
        values = set(connection.execute(text(
            "SELECT param, value FROM fhir_search_index WHERE id = 'th01-pat-9'")).all())
        born = connection.execute(text(
            "SELECT low FROM fhir_search_index WHERE id = 'th01-pat-9' AND param = 'birthdate'")).scalar()
    assert {("name", "王秀英"), ("name", "wangxiuying"), ("name", "wxy")} <= values
    assert born is not None


def test_searches_use_the_partial_search_indexes(db: Database) -> None:
    """rs0004 keeps only rows with a value (or a date) in each index; a search's comparison still picks it."""
    queries = {
        "fhir_search_index_value": "SELECT id FROM fhir_search_index WHERE resource_type = 'Patient' "
                                   "AND param = 'name' AND value >= 'wang' AND value < 'wanh'",
        "fhir_search_index_date": "SELECT id FROM fhir_search_index WHERE resource_type = 'Patient' "
                                  "AND param = 'birthdate' AND low < '1962-03-06'",
    }
    sqlite = db.engine.dialect.name == "sqlite"
    with db.engine.connect() as connection:
        if not sqlite:
            connection.execute(text("SET enable_seqscan = off"))  # an empty table: ask whether the index is usable
        for index, query in queries.items():
            plan = " ".join(str(row[-1]) for row in connection.execute(
                text(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + query)))
            assert index in plan, plan
            definition = connection.execute(text(
                "SELECT sql FROM sqlite_master WHERE name = :n" if sqlite
                else "SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": index}).scalar()
            assert "WHERE" in definition.upper(), definition
