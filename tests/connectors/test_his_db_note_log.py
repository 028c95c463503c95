"""A HIS connector's notes on rows it still sends reach the log: each kind once, then at most hourly."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from connectors.his_db.note_log import OTHER, NoteLog
from tests.connectors.test_his_db import _looking_back, _patient_row, empty_his

BAD_CHECK_DIGIT = "110101199003074572"  # the right check digit is 3


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.his_db.note_log"]
    caplog.clear()
    return lines


def test_each_kind_is_logged_when_first_seen_then_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    notes = NoteLog("th01-his", every_s=3600, clock=lambda: now[0])
    caplog.set_level(logging.WARNING)
    notes.saw(["HZXX:2026-11-23 08:00:00|1: unmapped local code 'A1' (column XB, code table sex); kept",
               "HZXX:2026-11-23 08:00:01|2: unmapped local code 'A2' (column XB, code table sex); kept",
               "3 rows of HZXX were deleted at the source"])  # no row's position: logged where it is made
    notes.report()
    (line,) = _lines(caplog)
    assert line.startswith("th01-his: 2 rows so far: unmapped local code '…' (column XB, code table sex)")
    assert line.endswith("(latest: HZXX:2026-11-23 08:00:01|2: unmapped local code 'A2' (column XB, code table sex); kept)")
    notes.saw(["HZXX:2026-11-23 09:00:00|3: unmapped local code 'A3' (column XB, code table sex); kept"])
    now[0] += 3599
    notes.report()
    assert _lines(caplog) == []  # within the hour: counted, not logged
    now[0] += 1
    notes.report()
    (line,) = _lines(caplog)
    assert line.startswith("th01-his: 1 row in the last 60 min: unmapped local code '…'") and "|3:" in line
    notes.report()
    assert _lines(caplog) == []  # nothing new


def test_kinds_beyond_the_limit_are_counted_together(caplog: pytest.LogCaptureFixture) -> None:
    notes = NoteLog("th01-his", kinds_max=2)
    caplog.set_level(logging.WARNING)
    notes.saw([f"T:1|{i}: note of kind {i}" for i in range(5)])
    notes.report()
    lines = _lines(caplog)
    assert len(lines) == 3 and f"3 rows so far: {OTHER}" in lines[2]


def test_a_polling_connector_logs_its_notes_and_a_check_does_not(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    url, engine, tables = empty_his(tmp_path)
    with engine.begin() as conn:
        for i in (1, 2):
            conn.execute(tables.tables["HZXX"].insert().values(
                **{**_patient_row(i, f"2026-11-23 08:00:0{i}.000000"), "SFZH": BAD_CHECK_DIGIT}))
    caplog.set_level(logging.WARNING)
    checked = _looking_back(url).check(None)
    assert len(checked.notes) == 2 and _lines(caplog) == []  # `hub connector check` prints them itself
    connector = _looking_back(url)
    result = connector.poll({})
    assert [e.flags for e in result.events] == [("resident-id-check-digit",)] * 2
    (line,) = _lines(caplog)
    assert line.startswith("th01-his: 2 rows so far: resident ID '…' fails its check digit; kept and flagged")
    assert "HZXX:" in line and "|0000000002:" in line
