"""Parts as the application reads them: registry entries, services, migrations per part."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from hub.app import parts as registered
from hub.app.api.app import _literal_paths_first
from hub.core.parts import Part, load_parts
from hub.core.services import NoSharedRecord, Services

PROBE = Part(name="probe", description="a part for tests")
OTHER = Part(name="other", description="offers what probe offers", provides={"shared_record": "x:y"})


def test_a_registry_entry_must_name_a_part_under_its_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="calls itself 'probe' but is registered as 'elsewhere'"):
        load_parts({"elsewhere": "tests.hub.test_parts:PROBE"})
    with pytest.raises(TypeError, match="is not a Part"):
        load_parts({"probe": "tests.hub.test_parts:test_a_registry_entry_must_name_a_part_under_its_own_name"})
    assert load_parts({"probe": "tests.hub.test_parts:PROBE"}) == [PROBE]


def test_services_have_one_provider_and_a_default() -> None:
    record_store = next(p for p in registered.consumer_parts() if p.name == "record_store")
    with pytest.raises(ValueError, match="two parts offer the service 'shared_record'"):
        registered.services([record_store, OTHER, record_store])
    assert isinstance(Services().shared_record, NoSharedRecord)
    assert not isinstance(registered.services([record_store]).shared_record, NoSharedRecord)
    with pytest.raises(KeyError, match="no part offers the service 'nothing'"):
        Services().get("nothing")


def test_an_unknown_connector_kind_names_the_known_ones(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("name: c\nkind: carrier_pigeon\nfacility_id: th01\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown connector kind 'carrier_pigeon'; known kinds: dicom, fhir_rest"):
        registered.load_connector_config(config)


def test_each_part_with_tables_has_its_own_branch(tmp_path: Path) -> None:
    """`hub db heads` on a fresh database: the core and each part's branch, all applied."""
    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "PATH": "/usr/bin:/bin"}
    upgraded = subprocess.run([sys.executable, "-m", "hub.app.cli", "db", "upgrade"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    heads = subprocess.run([sys.executable, "-m", "hub.app.cli", "db", "heads"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert heads.returncode == 0, heads.stderr
    lines = {line.split()[0]: line.split()[1:3] for line in heads.stdout.splitlines()}
    assert lines["core"] == ["0005", "applied"]
    assert lines["record_store"] == ["rs0004", "applied"]
    assert lines["referrals"] == ["ref0001", "applied"]
    assert lines["delivery"] == ["dlv0001", "applied"]
    assert lines["image_archive"] == ["ia0001", "applied"]
    assert lines["critical_values"] == ["cv0001", "applied"]
    assert lines["reading"] == ["rd0002", "applied"]


def test_a_literal_path_wins_over_a_pattern_whichever_part_added_it() -> None:
    generic, specific = APIRouter(prefix="/fhir"), APIRouter()

    @generic.get("/{resource_type}")
    def search(resource_type: str) -> dict[str, str]:
        return {"by": "pattern"}

    @specific.get("/fhir/Task")
    def tasks() -> dict[str, str]:
        return {"by": "literal"}

    app = FastAPI()
    app.include_router(_literal_paths_first([generic, specific]))  # the generic part registered first
    client = TestClient(app)
    assert client.get("/fhir/Task").json() == {"by": "literal"}
    assert client.get("/fhir/Patient").json() == {"by": "pattern"}
