"""A shared record of a few people with the elements Patient search reads (names in characters and
Latin script, birth dates, sexes, phones, addresses), served by the app over a real database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from consumers.record_store.writer import RecordWriter
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.identifiers import local_mrn_system
from tests.api.conftest import Community, auth, community, served  # noqa: F401 - fixtures used by name
from tests.factories import BASE_TIME


def person(facility: str, local_id: str, family: str, given: str, birth: str, gender: str, phone: str | None = None,
           city: str | None = None, district: str | None = None, line: str | None = None,
           version: int = 0, **extra: Any) -> Event:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": f"{facility}-pat-{local_id}",
        "identifier": [{"system": local_mrn_system(facility), "value": local_id}],
        "name": [{"text": family + given, "family": family, "given": [given]}],
        "gender": gender, "birthDate": birth, **extra,
    }
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    if city or district or line:
        resource["address"] = [{k: v for k, v in {"state": "河南省", "city": city, "district": district,
                                                  "line": [line] if line else None}.items() if v}]
    return Event(deterministic_event_id(facility, "test", f"pat:{local_id}", str(version)), "patient",
                 Source(facility, "test", f"pat:{local_id}@{version}"), BASE_TIME, BASE_TIME,
                 f"{facility}/{local_id}", resource)


PEOPLE = [
    person("th03", "11", "王", "秀英", "1962-03-05", "female", "138-1111-2222", "信阳市", "光山县", "槐店乡王湾村"),
    person("th03", "12", "王", "建国", "1962-11-20", "male", "+86 139 0000 3333", "信阳市", "光山县", "泼陂河镇"),
    person("th04", "21", "汪", "秀英", "1990-07-01", "female", None, "信阳市", "新县", "八里畈镇"),
    person("th04", "22", "李", "娜", "2019-05-14", "female", "13700004444", "郑州市", "金水区", "经三路"),
    person("th04", "23", "Smith", "John", "1975", "male", "0371-6666-7777"),
    person("th04", "24", "张", "伟", "1980-01-01", "unknown"),
]


def store(db: Database, events: list[Event]) -> None:
    with db.transaction() as session:
        writer = RecordWriter(session)
        for event in events:
            writer.apply(event)
        writer.finish()


@pytest.fixture
def people(community: Community, db: Database, settings: HubSettings) -> Iterator[Community]:  # noqa: F811
    store(db, PEOPLE)
    yield community


def ids(bundle: dict[str, Any], mode: str = "match") -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode}


def get(hub: Community, url: str, token: str = "clinician", **headers: str) -> Any:
    return hub.client.get(url, headers={**auth(hub.tokens[token]), **headers})
