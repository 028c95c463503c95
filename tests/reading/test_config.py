"""The targets file: read once at start, every mistake one line naming the file and the entry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from consumers.reading.config import DEFAULT_TARGETS, ReadingConfigError, add_working_days, load_config
from hub.app.api.app import create_app


def _write(tmp_path: Path, change: dict) -> Path:
    raw = yaml.safe_load(DEFAULT_TARGETS.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        node = raw
        *parents, last = dotted.split(".")
        for name in parents:
            node = node[name]
        if value is None:
            del node[last]
        else:
            node[last] = value
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_targets_load() -> None:
    config = load_config(None, 600)
    assert config.lease_s == 600 and config.at_risk == 0.8
    assert config.target("ecg", "stat").text == "10m" and config.target("ecg", "routine").text == "30m"
    assert config.target("imaging", "urgent").text == "1h" and config.target("imaging", "routine").text == "24h"
    assert config.centre("pathology").second_reading and config.target("pathology", "routine").unit == "wd"


@pytest.mark.parametrize("change, message", [
    ({"centres.ecg.targets.stat": "soon"}, "centres.ecg.targets.stat: 'soon' is not a duration"),
    ({"centres.ecg.targets.stat": None}, "centres.ecg.targets: has no target for stat"),
    ({"centres.ecg.targets.whenever": "1h"}, "centres.ecg.targets.whenever: not a priority"),
    ({"centres.dental": {"targets": {}}}, "centres.dental: unknown centre"),
    ({"centres.imaging": None}, "centres: has no entry for imaging"),
    ({"at_risk": 1.5}, "at_risk: must be a number between 0 and 1"),
    ({"centres.ecg.backup": "ecg-backup"}, "centres.ecg.backup: must be a list of reader names"),
    ({"centres.ecg.second_reading": "yes"}, "centres.ecg.second_reading: must be true or false"),
    ({"centres.ecg.colour": "red"}, "centres.ecg.colour: unknown key"),
])
def test_a_mistake_is_one_line_naming_the_entry(tmp_path: Path, change: dict, message: str) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(ReadingConfigError) as caught:
        load_config(path, 600)
    assert str(caught.value).startswith(f"reading targets {path}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ReadingConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.yaml", 600)
    broken = tmp_path / "broken.yaml"
    broken.write_text("centres: [unclosed", encoding="utf-8")
    with pytest.raises(ReadingConfigError, match="not valid YAML"):
        load_config(broken, 600)


def test_the_app_refuses_to_start_with_a_bad_file(tmp_path: Path, settings, db) -> None:
    bad = _write(tmp_path, {"centres.ecg.targets.stat": "10 minutes"})
    with pytest.raises(ReadingConfigError, match="centres.ecg.targets.stat"):
        create_app(settings.model_copy(update={"reading_targets": bad}), db)


def test_working_days_skip_the_weekend() -> None:
    friday_10 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Friday 10:00 in China
    assert add_working_days(friday_10, 1) == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00
    assert add_working_days(friday_10, 5) == datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # counts from Monday 08:00
    assert add_working_days(saturday, 1) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
