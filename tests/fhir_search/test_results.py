"""What a search returns: sorted, paged by cursor while records arrive, with includes, subsets, counts,
and unknown parameters refused (strict) or left out with a warning (lenient)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from consumers.record_store.models import SearchValue
from consumers.record_store.search.reindex import reindex_all
from hub.core.db import Database
from tests.api.conftest import Community, lab_event
from tests.factories import encounter_event
from tests.fhir_search.conftest import get, ids, person, store


def follow(community: Community, url: str) -> dict:
    response = get(community, url.replace("http://testserver", "").replace(community_base(community), ""))
    assert response.status_code == 200, response.text
    return response.json()


def community_base(community: Community) -> str:
    return community.client.app.state.settings.public_base


def next_url(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def test_sort_by_birth_date_then_name(people: Community) -> None:
    bundle = get(people, "/fhir/Patient?_tag:not=urn:hub:tag|golden&_sort=-birthdate,family&_count=100").json()
    births = [e["resource"].get("birthDate") for e in bundle["entry"]]
    assert births[0] == "2019-05-14" and births == sorted(births, reverse=True)
    by_family = get(people, "/fhir/Patient?_tag:not=urn:hub:tag|golden&address-city=信阳市&_sort=family,_id").json()
    assert [e["resource"]["id"] for e in by_family["entry"]] == ["th04-pat-21", "th03-pat-11", "th03-pat-12"]


def test_bad_sort_names_the_parameter(people: Community) -> None:
    response = get(people, "/fhir/Patient?_sort=colour")
    assert response.status_code == 400 and response.json()["issue"][0]["expression"] == ["_sort"]


def test_cursor_paging_neither_repeats_nor_skips_while_records_arrive(people: Community, db: Database) -> None:
    seen: list[str] = []
    bundle = get(people, "/fhir/Patient?_tag:not=urn:hub:tag|golden&_sort=_id&_count=3").json()
    total = bundle["total"]
    arrived = 0
    while True:
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        # Between two pages, new patients arrive: some sort before the cursor, some after.
        store(db, [person("aa01", f"n{arrived}", "赵", "新", "2000-01-01", "male"),
                   person("zz09", f"n{arrived}", "钱", "新", "2000-01-01", "male")])
        arrived += 1
        url = next_url(bundle)
        if url is None:
            break
        assert "_offset" not in url and "_cursor=" in url
        bundle = follow(people, url)
    assert len(seen) == len(set(seen)), "an entry was returned twice"
    before = [i for i in seen if not i.startswith(("aa01", "zz09"))]
    assert len(before) == total, "an entry that was there at the start was skipped"


def test_a_cursor_from_another_sort_is_refused(people: Community) -> None:
    first = get(people, "/fhir/Patient?_sort=_id&_count=2").json()
    cursor = parse_qs(urlsplit(next_url(first) or "").query)["_cursor"][0]
    response = get(people, f"/fhir/Patient?_sort=birthdate&_cursor={cursor}")
    assert response.status_code == 400 and response.json()["issue"][0]["expression"] == ["_cursor"]
    forged = base64.urlsafe_b64encode(json.dumps({"s": ["_id"], "v": [{"x": 1}]}).encode()).decode()
    assert get(people, f"/fhir/Patient?_sort=_id&_cursor={forged}").status_code == 400


def test_include_and_revinclude(people: Community, db: Database) -> None:
    store(db, [encounter_event("th03", "11", visit=4), lab_event("th03", "11", report=4)])
    observations = get(people, "/fhir/Observation?patient=th03-pat-11&_include=Observation:patient").json()
    assert ids(observations) == {"th03-obs-4"} and ids(observations, "include") == {"th03-pat-11"}
    reports = get(people, "/fhir/DiagnosticReport?patient=th03-pat-11&_include=DiagnosticReport:result").json()
    assert ids(reports) == {"th03-dr-4"} and ids(reports, "include") == {"th03-obs-4"}
    # DiagnosticReport:result points at Observations only: asking for it on a Patient search is a mistake.
    wrong = get(people, "/fhir/Patient?_id=th03-pat-11&_revinclude=DiagnosticReport:result")
    assert wrong.status_code == 400 and wrong.json()["issue"][0]["expression"] == ["_revinclude"]
    ok = get(people, "/fhir/Patient?_id=th03-pat-11&_revinclude=Encounter:subject&_revinclude=Observation:patient").json()
    assert ids(ok) == {"th03-pat-11"} and ids(ok, "include") == {"th03-enc-4", "th03-obs-4"}
    observation_of_report = get(people, "/fhir/Observation?_id=th03-obs-4&_revinclude=DiagnosticReport:result").json()
    assert ids(observation_of_report, "include") == {"th03-dr-4"}


def test_includes_stay_in_the_callers_scope(people: Community, db: Database) -> None:
    store(db, [lab_event("th01", "1", report=5)])
    bundle = get(people, "/fhir/Observation?_id=th01-obs-5&_include=Observation:patient", token="connector_th01").json()
    assert ids(bundle) == {"th01-obs-5"} and ids(bundle, "include") == {"th01-pat-1"}
    other = get(people, "/fhir/Patient?_id=th01-pat-1&_revinclude=Encounter:subject", token="connector_th01").json()
    assert all(i.startswith("th01-") for i in ids(other, "include"))  # cty01's encounter of the person is not shown


def test_elements_and_summary(people: Community) -> None:
    subset = get(people, "/fhir/Patient?_id=th03-pat-11&_elements=birthDate,gender").json()["entry"][0]["resource"]
    assert set(subset) == {"resourceType", "id", "meta", "birthDate", "gender"}
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
            "display": "subsetted"} in subset["meta"]["tag"]
    summary = get(people, "/fhir/Patient?_id=th03-pat-11&_summary=true").json()["entry"][0]["resource"]
    assert "name" in summary and "birthDate" in summary and "text" not in summary
    counted = get(people, "/fhir/Patient?name=wxy&_summary=count").json()
    assert counted["total"] >= 4 and not counted["entry"]
    untotalled = get(people, "/fhir/Patient?name=wxy&_total=none").json()
    assert "total" not in untotalled and untotalled["entry"]
    assert get(people, "/fhir/Patient?_summary=maybe").status_code == 400


def test_unknown_parameters_strict_and_lenient(people: Community) -> None:
    strict = get(people, "/fhir/Patient?name=wxy&colour=red")
    assert strict.status_code == 400 and strict.json()["issue"][0]["expression"] == ["colour"]
    explicit = get(people, "/fhir/Patient?name=wxy&colour=red", Prefer="handling=strict")
    assert explicit.status_code == 400
    lenient = get(people, "/fhir/Patient?name=wxy&colour=red&name:sounds=x", Prefer="handling=lenient")
    assert lenient.status_code == 200
    bundle = lenient.json()
    [warning] = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert warning["issue"][0]["severity"] == "warning" and warning["issue"][0]["expression"] == ["colour", "name:sounds"]
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "colour" not in self_link and "name=wxy" in self_link
    assert ids(bundle) == ids(get(people, "/fhir/Patient?name=wxy").json())


def test_modifier_not_supported_for_the_type_is_400(people: Community) -> None:
    response = get(people, "/fhir/Patient?address-city:not=x")
    assert response.status_code == 400 and response.json()["issue"][0]["expression"] == ["address-city:not"]
    assert get(people, "/fhir/Patient?birthdate:missing=maybe").status_code == 400


@pytest.mark.parametrize("query", ["code=http://loinc.org|2345-7,http://loinc.org|9999-9", "category:missing=true",
                                   "date=2026-11-20", "encounter:missing=true", "status:not=cancelled"])
def test_observation_parameters(people: Community, db: Database, query: str) -> None:
    store(db, [lab_event("th03", "11", report=6)])
    assert "th03-obs-6" in ids(get(people, f"/fhir/Observation?{query}").json())


def test_reindex_fills_the_index_of_what_is_stored(people: Community, db: Database) -> None:
    with db.transaction() as session:
        session.query(SearchValue).delete()
    assert sources_by_name(people) == set()
    with db.engine.begin() as connection:
        assert reindex_all(connection) > 0
    assert sources_by_name(people) == {"th03-pat-11", "th01-pat-1", "cty01-pat-A77", "th04-pat-21"}


def sources_by_name(community: Community) -> set[str]:
    return {i for i in ids(get(community, "/fhir/Patient?name=wxy").json()) if not i.startswith("cp-")}


def test_a_members_identifier_finds_its_own_record_first(people: Community) -> None:
    from hub.core.identifiers import local_mrn_system

    bundle = get(people, f"/fhir/Patient?identifier={local_mrn_system('th03')}|11").json()
    found = [e["resource"]["id"] for e in bundle["entry"]]
    assert found[0] == "th03-pat-11" and all(i.startswith("cp-") for i in found[1:]) and len(found) == 2


def test_records_flagged_for_data_quality_are_found_by_tag(people: Community, db: Database) -> None:
    """A member's field the hub could not read (HL7 PID-7 `196203520`) is a meta.tag a data steward searches."""
    flagged = person("th06", "1", "孙", "丽", "1962-03-05", "female",
                     meta={"tag": [{"system": "urn:hub:data-quality", "code": "PID-7:invalid-date"}]})
    store(db, [flagged])
    found = get(people, "/fhir/Patient?_tag=urn:hub:data-quality|PID-7:invalid-date").json()
    assert ids(found) == {"th06-pat-1"}
    assert ids(get(people, "/fhir/Patient?_tag=urn:hub:data-quality|&_tag:not=urn:hub:tag|golden").json()) == {"th06-pat-1"}
