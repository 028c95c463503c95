"""The patient index in the record store: link, possible match, review, merge, unmerge, re-match."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from consumers.record_store import queries
from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.links import LinkEditor, stale_links
from consumers.record_store.matching.rules import DEFAULT_RULES, load_rules
from consumers.record_store.models import LinkHistory, MatchReview, PatientLink, StoredResource
from consumers.record_store.rematch import Rematcher
from consumers.record_store.writer import RecordWriter
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event
from hub.core.fhir import validate_resource
from tests.factories import encounter_event, patient_event

RID = "110101199003074573"


def apply(db: Database, *events: Event, consumer: RecordStoreConsumer | None = None) -> None:
    consumer = consumer or RecordStoreConsumer()
    with db.transaction() as session:
        consumer.apply_batch(session, [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)])


def person(facility: str, local: str, name: str = "张伟", rid: str | None = None, birth: str = "1990-03-07",
           phone: str | None = "13812345678", address: str = "青山县青山镇枫树岭12号", version: int = 0) -> Event:
    event = patient_event(facility, local, name=name, resident_id=rid, version=version, phone=phone or "")
    resource = dict(event.resource)
    resource["name"] = [{"text": name}]
    resource["birthDate"] = birth
    resource["address"] = [{"text": address}]
    if phone is None:
        resource.pop("telecom")
    return replace(event, resource=resource)


def community(db: Database, patient_key: str) -> str:
    with db.sessions() as session:
        link = session.get(PatientLink, patient_key)
        assert link is not None, patient_key
        return link.community_patient_id


def golden(db: Database, cp: str) -> dict:
    with db.sessions() as session:
        return json.loads(session.get(StoredResource, ("Patient", cp)).content)


def edit(db: Database, run, actor: str = "reviewer"):
    with db.transaction() as session:
        writer = RecordWriter(session)
        result = run(LinkEditor(writer, actor))
        writer.finish()
    return result


def test_same_person_without_id_links_by_score_and_explains_why(db: Database) -> None:
    apply(db, person("th01", "1", rid=RID), person("vc03", "7", name="章伟", phone=None))
    cp = community(db, "th01/1")
    assert community(db, "vc03/7") == cp
    with db.sessions() as session:
        link = session.get(PatientLink, "vc03/7")
        (history,) = session.scalars(select(LinkHistory).where(LinkHistory.patient_key == "vc03/7")).all()
    assert link.linked_by == "score" and link.score >= load_rules().thresholds.link
    assert history.action == "link" and "name same_pinyin" in history.detail
    refs = {x["other"]["reference"] for x in golden(db, cp)["link"]}
    assert refs == {"Patient/th01-pat-1", "Patient/vc03-pat-7"}


def test_possible_match_opens_a_review_task(db: Database) -> None:
    apply(db, person("th01", "1", rid=RID),
          person("vc03", "7", name="Zhang Wei", birth="1990-07-03", phone="13900000000"))
    assert community(db, "vc03/7") != community(db, "th01/1")
    with db.sessions() as session:
        (review,) = session.scalars(select(MatchReview)).all()
        task = json.loads(session.get(StoredResource, ("Task", review.id)).content)
    validate_resource(task)
    assert task["status"] == "requested" and task["focus"] == {"reference": "Patient/vc03-pat-7"}
    assert task["for"] == {"reference": f"Patient/{community(db, 'th01/1')}"}
    assert "birth_date swapped_day_month" in task["input"][1]["valueString"]


def test_different_people_get_their_own_community(db: Database) -> None:
    apply(db, person("th01", "1", rid=RID), person("th02", "5", name="李娜", birth="1971-11-30", phone="13700000000"))
    assert community(db, "th01/1") != community(db, "th02/5")
    with db.sessions() as session:
        assert session.scalars(select(MatchReview)).all() == []


def test_confirm_and_reject_reviews(db: Database) -> None:
    apply(db, person("th01", "1", rid=RID),
          person("vc03", "7", name="Zhang Wei", birth="1990-07-03", phone="13900000000"),
          person("vc04", "8", name="Zhang Wei", birth="1990-07-03", phone="13900000001"))
    with db.sessions() as session:
        reviews = {r.patient_key: r.id for r in session.scalars(select(MatchReview))}
    edit(db, lambda e: e.confirm(reviews["vc03/7"], "same ID card shown at the desk"))
    edit(db, lambda e: e.reject(reviews["vc04/8"], "different person, checked by phone"))
    assert community(db, "vc03/7") == community(db, "th01/1")
    with db.sessions() as session:
        statuses = {r.patient_key: r.status for r in session.scalars(select(MatchReview))}
        confirmed = json.loads(session.get(StoredResource, ("Task", reviews["vc03/7"])).content)
        assert session.get(PatientLink, "vc03/7").pinned
    assert statuses == {"vc03/7": "completed", "vc04/8": "rejected"}
    assert "confirmed" in confirmed["output"][0]["valueString"]


def test_manual_link_unlink_merge_and_unmerge_keep_history_and_data(db: Database) -> None:
    apply(db, person("th01", "1", rid=RID), encounter_event("th01", "1", visit=1),
          person("th02", "5", name="李娜", birth="1971-11-30", phone="13700000000"), encounter_event("th02", "5", visit=2))
    first, second = community(db, "th01/1"), community(db, "th02/5")
    change = edit(db, lambda e: e.merge(first, second, "duplicate registration"))
    assert community(db, "th02/5") == first
    merged = golden(db, second)
    assert merged["active"] is False and merged["link"][0] == {"other": {"reference": f"Patient/{first}"}, "type": "replaced-by"}
    with db.sessions() as session:
        rows, total = queries.everything(session, second, 0, 50)  # the old id still answers
    assert {r.id for r in rows} >= {"th01-enc-1", "th02-enc-2", "th02-pat-5"}
    edit(db, lambda e: e.unmerge(change.operation_id))
    assert community(db, "th02/5") == second and golden(db, second)["active"] is True
    edit(db, lambda e: e.link("th02-pat-5", first))
    assert community(db, "th02/5") == first
    edit(db, lambda e: e.unlink("th02-pat-5"))
    assert community(db, "th02/5") not in (first, second)
    with db.sessions() as session:
        actions = [r.action for r in session.scalars(
            select(LinkHistory).where(LinkHistory.patient_key == "th02/5").order_by(LinkHistory.id))]
        source = json.loads(session.get(StoredResource, ("Patient", "th02-pat-5")).content)
    assert actions == ["link", "merge", "unmerge", "link", "unlink"]
    assert source["link"][0]["other"]["reference"] == f"Patient/{community(db, 'th02/5')}"


def test_a_record_that_gains_a_resident_id_joins_its_community(db: Database) -> None:
    apply(db, person("th01", "1", rid=RID), person("vc03", "7", name="王芳", birth="1950-01-01", phone=None))
    assert community(db, "vc03/7") != community(db, "th01/1")
    apply(db, person("vc03", "7", name="王芳", birth="1950-01-01", phone=None, rid=RID, version=2))
    assert community(db, "vc03/7") == community(db, "th01/1")


def test_rematch_after_a_rules_change(db: Database, tmp_path: Path) -> None:
    apply(db, person("th01", "1", rid=RID), person("vc03", "7", name="章伟", phone=None))
    assert community(db, "vc03/7") == community(db, "th01/1")
    stricter = tmp_path / "rules.yaml"
    stricter.write_text(DEFAULT_RULES.read_text(encoding="utf-8").replace("link: 15.0", "link: 40.0"), encoding="utf-8")
    rules = load_rules(stricter)
    with db.sessions() as session:
        assert stale_links(session, rules.version) == 2
    with db.transaction() as session:
        writer = RecordWriter(session, rules)
        assert LinkEditor(writer, "rematch").rematch() == 2
        writer.finish()
    assert community(db, "vc03/7") != community(db, "th01/1")  # no longer sure: split, and asked
    with db.sessions() as session:
        assert stale_links(session, rules.version) == 0
        (review,) = session.scalars(select(MatchReview)).all()
        actions = [r.action for r in session.scalars(select(LinkHistory).where(LinkHistory.patient_key == "vc03/7"))]
    assert review.patient_key == "vc03/7" and actions == ["link", "rematch"]
    # New records are matched under the new rules by a consumer configured with them.
    apply(db, person("vc05", "9", name="章伟", phone=None),
          consumer=RecordStoreConsumer(HubSettings(match_rules=stricter)))
    assert community(db, "vc05/9") not in (community(db, "th01/1"), community(db, "vc03/7"))


def test_the_background_rematcher_catches_up(db: Database, tmp_path: Path) -> None:

    apply(db, person("th01", "1", rid=RID), person("vc03", "7", name="章伟", phone=None))
    changed = tmp_path / "rules.yaml"
    changed.write_text(DEFAULT_RULES.read_text(encoding="utf-8").replace("same: 0.5", "same: 0.6"), encoding="utf-8")
    rules = load_rules(changed)
    stop = threading.Event()
    thread = threading.Thread(target=Rematcher(db, rules, interval_s=0.05).run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            with db.sessions() as session:
                if stale_links(session, rules.version) == 0:
                    break
            assert time.monotonic() < deadline, "the re-matcher did not catch up"
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert community(db, "vc03/7") == community(db, "th01/1")  # still a clear match under the new rules
