"""Mutual recognition on a real database: windows, issuing member, accredited list, status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import event

from consumers.record_store import recognition
from consumers.record_store.recognition import load_rules, recognised_results
from consumers.record_store.store import community_patient_id
from consumers.record_store.writer import RecordWriter
from hub.core.db import Database
from hub.core.events import Event, Source
from tests.factories import BASE_TIME, patient_event

AT = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 China time
LOINC = "http://loinc.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
RESIDENT = "110101199003074573"
_ids = count(1)


def result_event(
    facility: str,
    local_id: str,
    when: datetime,
    *,
    rtype: str = "Observation",
    code: tuple[str, str] = (LOINC, "2345-7"),
    display: str = "葡萄糖",
    status: str = "final",
    value: float | None = 7.2,
) -> Event:
    """One lab or imaging result of a member's patient, dated `when`."""
    n = next(_ids)
    kind = {"Observation": "obs", "DiagnosticReport": "dr", "ImagingStudy": "img"}[rtype]
    resource: dict[str, Any] = {
        "resourceType": rtype,
        "id": f"{facility}-{kind}-r{n}",
        "status": status,
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
    }
    coding = {"system": code[0], "code": code[1], "display": display}
    if rtype == "ImagingStudy":
        resource |= {"modality": [coding], "started": when.isoformat(), "description": display}
    else:
        resource |= {"code": {"coding": [coding]}, "effectiveDateTime": when.isoformat()}
    if rtype == "Observation" and value is not None:
        resource["valueQuantity"] = {"value": value, "unit": "mmol/L"}
    return Event(
        f"result-{n}",
        "lab_result",
        Source(facility, "test", f"r{n}"),
        BASE_TIME,
        BASE_TIME,
        f"{facility}/{local_id}",
        resource,
    )


def store(db: Database, events: list[Event]) -> None:
    with db.transaction() as session:
        writer = RecordWriter(session)
        for e in events:
            writer.apply(e)
        writer.finish()  # rebuilds the community patients the batch touched


def person(db: Database) -> str:
    """One person known at a township centre, the county hospital and a village clinic."""
    store(
        db,
        [
            patient_event("th01", "1", resident_id=RESIDENT),
            patient_event("cty01", "A77", resident_id=RESIDENT),
            patient_event("vc01", "5", resident_id=RESIDENT),
        ],
    )
    return community_patient_id("th01/1")


def ask(db: Database, patient: str, facility: str = "cty01", at: datetime = AT, rules=None):
    with db.sessions() as session:
        return recognised_results(session, rules or load_rules(), patient, facility, at)


@pytest.mark.parametrize(
    ("code", "age", "listed"),
    [
        ((LOINC, "2345-7"), timedelta(days=7), True),  # glucose: exactly at the edge is still valid
        ((LOINC, "2345-7"), timedelta(days=7, seconds=1), False),
        ((LOINC, "2093-3"), timedelta(days=89, hours=23), True),  # cholesterol: 90 days
        ((LOINC, "2093-3"), timedelta(days=90, minutes=1), False),
        ((DCM, "CT"), timedelta(days=180), True),
        ((DCM, "CT"), timedelta(days=181), False),
    ],
)
def test_window_edges(db: Database, code: tuple[str, str], age: timedelta, listed: bool) -> None:
    golden = person(db)
    rtype = "ImagingStudy" if code[0] == DCM else "Observation"
    status = "available" if rtype == "ImagingStudy" else "final"
    store(db, [result_event("th01", "1", AT - age, rtype=rtype, code=code, status=status)])
    items = ask(db, golden)
    assert len(items) == int(listed)
    if listed:
        assert items[0].recognised and items[0].reason is None
        assert items[0].valid_until >= AT and items[0].code == f"{code[0]}|{code[1]}"


def test_only_other_members_results_are_listed(db: Database) -> None:
    golden = person(db)
    store(
        db,
        [
            result_event("cty01", "A77", AT - timedelta(days=1)),
            result_event("th01", "1", AT - timedelta(days=2)),
        ],
    )
    assert [i.facility_id for i in ask(db, golden, "cty01")] == ["th01"]
    assert [i.facility_id for i in ask(db, golden, "th01")] == ["cty01"]
    assert [i.facility_id for i in ask(db, golden, "th03")] == ["cty01", "th01"]  # newest first


def test_a_laboratory_not_on_the_list_is_shown_but_not_recognised(db: Database) -> None:
    golden = person(db)
    store(db, [result_event("vc01", "5", AT - timedelta(days=1))])
    [item] = ask(db, golden)
    assert item.facility_id == "vc01" and not item.recognised
    assert item.reason == "laboratory not on the community list"
    assert (item.value, item.unit, item.display) == (7.2, "mmol/L", "葡萄糖")


def test_results_that_are_not_final_are_not_recognised_and_void_ones_not_listed(db: Database) -> None:
    golden = person(db)
    store(
        db,
        [
            result_event(
                "th01",
                "1",
                AT - timedelta(days=1),
                rtype="DiagnosticReport",
                code=(LOINC, "58410-2"),
                status="preliminary",
            ),
            result_event("th01", "1", AT - timedelta(days=2), status="entered-in-error"),
            result_event(
                "th01",
                "1",
                AT - timedelta(days=3),
                rtype="ImagingStudy",
                code=(DCM, "DX"),
                status="registered",
            ),
        ],
    )
    items = ask(db, golden)
    assert [(i.resource_type, i.recognised, i.reason) for i in items] == [
        ("DiagnosticReport", False, "result not final (status preliminary)"),
        ("ImagingStudy", False, "result not final (status registered)"),
    ]


def test_unlisted_tests_are_shown_for_the_default_window_and_recognised_only_if_the_rules_say(
    db: Database,
) -> None:
    golden = person(db)
    local = ("urn:hub:facility:th01:lab", "JY0999")
    store(
        db,
        [
            result_event("th01", "1", AT - timedelta(days=6), code=local, display="微量元素锌"),
            result_event("th01", "1", AT - timedelta(days=8), code=local, display="微量元素锌"),
        ],
    )
    [item] = ask(db, golden)
    assert not item.recognised and item.reason == "test not on the community's recognition list"
    assert item.valid_until == item.date + timedelta(days=7)
    lenient = replace(load_rules(), recognise_unlisted=True)
    assert [i.recognised for i in ask(db, golden, rules=lenient)] == [True]


def test_every_reason_is_given_at_once(db: Database) -> None:
    golden = person(db)
    store(
        db, [result_event("vc01", "5", AT - timedelta(days=1), code=("urn:x", "POCT"), status="preliminary")]
    )
    [item] = ask(db, golden)
    assert item.reason == (
        "test not on the community's recognition list; laboratory not on the community list; "
        "result not final (status preliminary)"
    )


def test_a_source_id_and_the_golden_id_give_the_same_answer(db: Database) -> None:
    golden = person(db)
    store(
        db,
        [
            result_event("th01", "1", AT - timedelta(days=1)),
            result_event("vc01", "5", AT - timedelta(days=2)),
            result_event("th02", "9", AT - timedelta(days=1)),
        ],
    )  # someone else
    answers = [ask(db, pid) for pid in (golden, "th01-pat-1", "cty01-pat-A77", "vc01-pat-5")]
    assert all(a == answers[0] for a in answers) and len(answers[0]) == 2
    assert ask(db, "nobody-pat-1") is None


def test_results_after_the_moment_and_observations_without_value_are_left_out(db: Database) -> None:
    golden = person(db)
    store(
        db, [result_event("th01", "1", AT + timedelta(minutes=5)), result_event("th01", "1", AT, value=None)]
    )
    assert ask(db, golden) == []
    with pytest.raises(ValueError, match="timezone"):
        ask(db, golden, at=datetime(2026, 11, 23))


def test_reads_only_results_inside_the_longest_window(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    golden = person(db)
    old = [result_event("th01", "1", AT - timedelta(days=181 + i)) for i in range(300)]
    store(db, [*old, result_event("th01", "1", AT - timedelta(days=1))])
    seen: list[str] = []
    real_item = recognition._item
    monkeypatch.setattr(recognition, "_item", lambda row, *a: seen.append(row.id) or real_item(row, *a))
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        items = ask(db, golden)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(items) == 1 and len(seen) == 1  # the 300 old results never left the database
    query = next(s for s in statements if "fhir_resource.resource_type IN" in s)
    assert "fhir_resource.patient_key IN" in query and "fhir_resource.date >=" in query
