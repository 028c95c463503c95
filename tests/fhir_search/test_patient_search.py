"""Patient search as a clinician types it: characters, full pinyin, initials, birth date prefixes, sex,
phone however written, address parts; modifiers and comma alternatives."""

from __future__ import annotations

import pytest

from tests.api.conftest import Community
from tests.fhir_search.conftest import get, ids


def sources(community: Community, query: str) -> set[str]:
    response = get(community, f"/fhir/Patient?{query}")
    assert response.status_code == 200, response.text
    return {i for i in ids(response.json()) if not i.startswith("cp-")}


@pytest.mark.parametrize("query, expected", [
    ("name=王秀英", {"th03-pat-11", "th01-pat-1", "cty01-pat-A77"}),
    ("name=wangxiuying", {"th03-pat-11", "th01-pat-1", "cty01-pat-A77", "th04-pat-21"}),  # 汪 reads wang too
    ("name=wxy", {"th03-pat-11", "th01-pat-1", "cty01-pat-A77", "th04-pat-21"}),
    ("name=WangJian", {"th03-pat-12"}),
    ("name=秀英", {"th03-pat-11", "th01-pat-1", "cty01-pat-A77", "th04-pat-21"}),
    ("family=汪", {"th04-pat-21"}),
    ("family=wang", {"th03-pat-11", "th03-pat-12", "th01-pat-1", "cty01-pat-A77", "th04-pat-21"}),
    ("given=jianguo", {"th03-pat-12"}),
    ("name=smi", {"th04-pat-23"}),
    ("name=SMITH", {"th04-pat-23"}),
    ("name:exact=Smith", {"th04-pat-23"}),
    ("name:exact=smith", set()),
    ("name:contains=建", {"th03-pat-12"}),
    ("name:contains=mit", {"th04-pat-23"}),
    ("name=李娜,张伟", {"th04-pat-22", "th04-pat-24"}),
])
def test_names_in_characters_pinyin_and_initials(people: Community, query: str, expected: set[str]) -> None:
    assert sources(people, query) == expected


@pytest.mark.parametrize("query, expected", [
    ("birthdate=1962", {"th03-pat-11", "th03-pat-12"}),
    ("birthdate=1962-03", {"th03-pat-11"}),
    ("birthdate=1962-03-05", {"th03-pat-11"}),
    ("birthdate=ge2019-01-01", {"th04-pat-22"}),
    ("birthdate=lt1963-01-01&birthdate=gt1962-06-01", {"th03-pat-12"}),
    ("birthdate=le1975-06-01&gender=male", {"th03-pat-11", "th03-pat-12", "th04-pat-23"} - {"th03-pat-11"}),
    ("birthdate=sa2000-01-01", {"th04-pat-22"}),
    ("birthdate=eb1963-01-01", {"th03-pat-11", "th03-pat-12"}),
    ("birthdate=1975-06-01", set()),  # Smith was born in 1975, day unknown: not known to be that day
    ("birthdate=ap1962-03-06", {"th03-pat-11", "th03-pat-12"}),  # within a tenth of the 64 years since
])
def test_birth_dates_with_prefixes(people: Community, query: str, expected: set[str]) -> None:
    assert sources(people, query) - {"th01-pat-1", "cty01-pat-A77", "th02-pat-9"} == expected


@pytest.mark.parametrize("query, expected", [
    ("gender=female&address-city=信阳市", {"th03-pat-11", "th04-pat-21"}),
    ("gender:not=male&address-city=信阳市", {"th03-pat-11", "th04-pat-21"}),
    ("gender=unknown", {"th04-pat-24"}),
    ("phone=13811112222", {"th03-pat-11"}),
    ("phone=138-1111-2222", {"th03-pat-11"}),
    ("phone=13900003333", {"th03-pat-12"}),
    ("phone=+8613900003333", {"th03-pat-12"}),
    ("telecom=037166667777", {"th04-pat-23"}),
    ("address=光山县", {"th03-pat-11", "th03-pat-12"}),
    ("address:contains=王湾村", {"th03-pat-11"}),
    ("address=信阳市光山县", {"th03-pat-11", "th03-pat-12"}),
    ("address-district=新县", {"th04-pat-21"}),
    ("telecom:missing=true&address:missing=true", {"th04-pat-24"}),
    ("phone=%2B8613900003333", {"th03-pat-12"}),
])
def test_sex_phone_and_address(people: Community, query: str, expected: set[str]) -> None:
    assert sources(people, query) == expected


def test_identifier_of_any_system(people: Community) -> None:
    from hub.core.identifiers import local_mrn_system

    assert sources(people, f"identifier={local_mrn_system('th04')}|22") == {"th04-pat-22"}
    assert sources(people, "identifier=22") == {"th04-pat-22"}
    assert sources(people, f"identifier={local_mrn_system('th04')}|") == {
        "th04-pat-21", "th04-pat-22", "th04-pat-23", "th04-pat-24"}


def test_golden_patients_by_tag_and_not(people: Community) -> None:
    every = ids(get(people, "/fhir/Patient?name=王秀英&_count=100").json())
    golden = ids(get(people, "/fhir/Patient?name=王秀英&_tag=urn:hub:tag|golden").json())
    members = ids(get(people, "/fhir/Patient?name=王秀英&_tag:not=urn:hub:tag|golden").json())
    assert golden and all(i.startswith("cp-") for i in golden)
    assert members == {"th03-pat-11", "th01-pat-1", "cty01-pat-A77"}
    assert every == golden | members


def test_a_connector_finds_only_its_own_facility(people: Community) -> None:
    response = get(people, "/fhir/Patient?name=wxy", token="connector_th01")
    assert ids(response.json()) == {"th01-pat-1"}


def test_a_new_version_is_found_by_its_new_values_only(people: Community) -> None:
    """The index keeps the rows a new version still has and replaces the rest (store.py
    `_changed_search_values`): the old name finds nothing, the new one and the unchanged birth date find
    the record once, in this batch and the next."""
    from sqlalchemy import func, select

    from consumers.record_store.models import SearchValue
    from tests.fhir_search.conftest import person, store

    renamed = person("th04", "24", "张", "卫", "1980-01-01", "unknown", "13500001111", version=1)
    again = person("th04", "24", "张", "卫", "1980-01-01", "unknown", "13500001111", version=2)
    for event in (renamed, again):
        store(people.db, [event])
        assert sources(people, "name=张伟") == set()
        assert sources(people, "name=张卫") == {"th04-pat-24"}
        assert sources(people, "phone=135-0000-1111") == {"th04-pat-24"}
        assert "th04-pat-24" in sources(people, "birthdate=1980-01-01")
        with people.db.reading() as session:
            rows = session.execute(select(SearchValue.param, SearchValue.system, SearchValue.value, func.count())
                                   .where(SearchValue.id == "th04-pat-24")
                                   .group_by(SearchValue.param, SearchValue.system, SearchValue.value)).all()
        assert rows and all(count == 1 for *_, count in rows), rows
