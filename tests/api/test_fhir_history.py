"""Resource history on a real database: every version kept, vread, instance and type history,
ETag / Last-Modified and conditional reads, scoped, masked and audited like a read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from sqlalchemy import select

from consumers.record_store.writer import RecordWriter
from hub.core.db.models import AuditLog, AuditPatient
from hub.core.events import Event
from tests.api.conftest import Community, auth
from tests.factories import encounter_event, patient_event


def _apply(community: Community, *events: Event) -> None:
    with community.db.transaction() as session:
        writer = RecordWriter(session)
        for event in events:
            writer.apply(event)
        writer.finish()


def _cancelled_visit(version: int = 1) -> Event:
    event = encounter_event("th01", "1", visit=1, version=version)
    event.resource["status"] = "cancelled"
    return event


def test_every_write_keeps_a_version_that_vread_serves(community: Community) -> None:
    _apply(community, _cancelled_visit())
    headers = auth(community.tokens["clinician"])
    current = community.client.get("/fhir/Encounter/th01-enc-1", headers=headers)
    assert current.headers["etag"] == 'W/"2"'
    assert current.json()["meta"]["versionId"] == "2" and current.json()["status"] == "cancelled"
    first = community.client.get("/fhir/Encounter/th01-enc-1/_history/1", headers=headers)
    assert first.status_code == 200 and first.headers["etag"] == 'W/"1"'
    assert first.json()["status"] == "finished" and first.json()["meta"]["versionId"] == "1"
    second = community.client.get("/fhir/Encounter/th01-enc-1/_history/2", headers=headers)
    assert second.json() == current.json()
    assert second.headers["last-modified"] == current.headers["last-modified"]
    missing = community.client.get("/fhir/Encounter/th01-enc-1/_history/3", headers=headers)
    assert missing.status_code == 404 and "current version is 2" in missing.json()["issue"][0]["diagnostics"]
    bad = community.client.get("/fhir/Encounter/th01-enc-1/_history/two", headers=headers)
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    unknown = community.client.get("/fhir/Encounter/nope/_history/1", headers=headers)
    assert unknown.status_code == 404


def test_instance_history_is_a_history_bundle_newest_first(community: Community) -> None:
    _apply(community, _cancelled_visit())
    headers = auth(community.tokens["clinician"])
    bundle = community.client.get("/fhir/Encounter/th01-enc-1/_history", headers=headers).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "history" and bundle["total"] == 2
    newest, oldest = bundle["entry"]
    assert newest["request"] == {"method": "PUT", "url": "Encounter/th01-enc-1"}
    assert newest["response"]["status"] == "200 OK" and newest["response"]["etag"] == 'W/"2"'
    assert oldest["request"] == {"method": "POST", "url": "Encounter"}
    assert oldest["response"]["status"] == "201 Created" and oldest["response"]["etag"] == 'W/"1"'
    for entry in bundle["entry"]:  # meta, ETag and the history tell one story
        meta = entry["resource"]["meta"]
        assert entry["response"]["etag"] == f'W/"{meta["versionId"]}"'
        assert entry["response"]["lastModified"] == meta["lastUpdated"]
        assert entry["fullUrl"].endswith("/fhir/Encounter/th01-enc-1")


def test_type_history_pages_stay_still_while_versions_arrive(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    first = community.client.get("/fhir/Encounter/_history?_count=2", headers=headers).json()
    assert first["total"] == 3 and len(first["entry"]) == 2
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    _apply(community, _cancelled_visit())  # arrives between the pages
    rest = community.client.get(next_url.replace("http://testserver", ""), headers=headers).json()
    assert rest["total"] == 3 and len(rest["entry"]) == 1
    seen = [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in first["entry"] + rest["entry"]]
    assert sorted(seen) == [("cty01-enc-2", "1"), ("th01-enc-1", "1"), ("th02-enc-3", "1")]
    # A new answer has the new version, first; _since keeps only what changed after an instant.
    fresh = community.client.get("/fhir/Encounter/_history", headers=headers).json()
    assert fresh["total"] == 4 and fresh["entry"][0]["response"]["etag"] == 'W/"2"'
    since = fresh["entry"][1]["resource"]["meta"]["lastUpdated"]
    changed = community.client.get("/fhir/Encounter/_history", params={"_since": since}, headers=headers).json()
    assert [(e["resource"]["id"], e["response"]["etag"]) for e in changed["entry"]] == [("th01-enc-1", 'W/"2"')]
    unencoded = community.client.get(f"/fhir/Encounter/_history?_since={since}", headers=headers).json()
    assert unencoded["total"] == 1  # "+00:00" written as is in the URL arrives as " 00:00"
    assert community.client.get("/fhir/Encounter/_history?_since=yesterday", headers=headers).status_code == 400
    assert community.client.get("/fhir/Encounter/_history?_sort=x", headers=headers).status_code == 400


def test_history_is_scoped_like_a_read(community: Community) -> None:
    headers = auth(community.tokens["connector_th01"])
    encounters = community.client.get("/fhir/Encounter/_history", headers=headers).json()
    assert {e["resource"]["id"] for e in encounters["entry"]} == {"th01-enc-1"}
    patients = community.client.get("/fhir/Patient/_history", headers=headers).json()
    assert {e["resource"]["id"] for e in patients["entry"]} == {"th01-pat-1"}  # no golden, no other member
    other = community.client.get("/fhir/Encounter/th02-enc-3/_history", headers=headers)
    assert other.status_code == 403
    assert community.client.get("/fhir/Encounter/th02-enc-3/_history/1", headers=headers).status_code == 403
    assert community.client.get("/fhir/Encounter/th01-enc-1/_history/1", headers=headers).status_code == 200


def test_history_is_masked_and_audited(community: Community) -> None:
    _apply(community, patient_event("th01", "1", name="王秀英", resident_id="110101199003074573",
                                    phone="13812345678", version=1))
    headers = auth(community.tokens["reader"])  # a role that may not see resident ID and phone numbers
    bundle = community.client.get("/fhir/Patient/th01-pat-1/_history", headers=headers)
    assert "13812345678" not in bundle.text and "110101199003074573" not in bundle.text
    assert bundle.json()["total"] == 2
    version = community.client.get("/fhir/Patient/th01-pat-1/_history/1", headers=headers)
    assert "13812345678" not in version.text and version.status_code == 200
    with community.db.sessions() as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        patients = [set(session.scalars(select(AuditPatient.patient_id).where(AuditPatient.audit_uid == r.uid)))
                    for r in rows]
    assert [(r.actor, r.action) for r in rows] == [("reader-zhang", "instance_history"), ("reader-zhang", "vread")]
    assert all("th01-pat-1" in found for found in patients)


def test_etag_and_last_modified_make_reads_conditional(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    for path in ("/fhir/Encounter/th01-enc-1", "/fhir/Encounter/th01-enc-1/_history/1"):
        first = community.client.get(path, headers=headers)
        assert first.headers["etag"] == 'W/"1"' and first.headers["last-modified"]
        same = community.client.get(path, headers={**headers, "If-None-Match": 'W/"1"'})
        assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == 'W/"1"'
        assert community.client.get(path, headers={**headers, "If-None-Match": 'W/"7"'}).status_code == 200
        later = format_datetime(datetime.now(UTC) + timedelta(minutes=1), usegmt=True)
        earlier = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
        assert community.client.get(path, headers={**headers, "If-Modified-Since": later}).status_code == 304
        assert community.client.get(path, headers={**headers, "If-Modified-Since": earlier}).status_code == 200
        bad = community.client.get(path, headers={**headers, "If-None-Match": "yesterday"})
        assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["If-None-Match"]
    _apply(community, _cancelled_visit())
    changed = community.client.get("/fhir/Encounter/th01-enc-1", headers={**headers, "If-None-Match": 'W/"1"'})
    assert changed.status_code == 200 and changed.headers["etag"] == 'W/"2"'
