"""With several indexed criteria, the one with the fewest index rows finds the candidates and the others
are checked per candidate (query.matching): a common name prefix never drives a search for one birth date."""

from __future__ import annotations

from consumers.record_store.search import query
from hub.core.db import Database
from tests.api.conftest import Community
from tests.fhir_search.conftest import get, ids, person, store


def _shapes(db: Database, url: str) -> list[str]:
    params = [tuple(p.split("=", 1)) for p in url.split("&")]
    request = query.parse("Patient", params, True)
    with db.reading() as session:
        clauses = query.matching(session, request)
    return ["exists" if "EXISTS" in str(c.compile(db.engine)) else "in" for c in clauses]


def test_the_criterion_with_fewer_rows_drives(community: Community, db: Database) -> None:
    many = [person("th05", f"z{i}", "张", f"伟{i}", f"19{40 + i}-01-01", "male") for i in range(40)]
    store(db, [*many, person("th05", "target", "周", "红", "1995-07-08", "female")])
    # 41 people start with zh (zhang…, zhou…), one was born on 1995-07-08: the birth date drives.
    assert _shapes(db, "name=zh&birthdate=1995-07-08") == ["exists", "in"]
    # One name starts with zhouh, forty birth dates are before 1990: the name drives.
    assert _shapes(db, "name=zhouh&birthdate=lt1990") == ["in", "exists"]
    assert _shapes(db, "name=zh") == ["in"]  # one criterion: nothing to choose
    assert _shapes(db, "name=zh&gender:not=male") == ["in", "in"]  # a :not never drives, and stays an IN
    found = get(community, "/fhir/Patient?name=zh&birthdate=1995-07-08")
    assert {i for i in ids(found.json()) if not i.startswith("cp-")} == {"th05-pat-target"}
