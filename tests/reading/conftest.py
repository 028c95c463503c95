"""The reading centres over a real database: the shared record of tests/api (王秀英 at th01 and cty01),
reader and lead tokens, and the reading consumer to feed imaging requests through."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from consumers.reading.consumer import ReadingConsumer
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event
from hub.core.web.auth import issue_token
from tests.api.conftest import Community, auth, community, page, served  # noqa: F401 - fixtures used here

__all__ = ["Reading", "auth"]


@dataclass
class Reading:
    community: Community
    consumer: ReadingConsumer

    @property
    def client(self) -> TestClient:
        return self.community.client

    @property
    def db(self) -> Database:
        return self.community.db

    def token(self, name: str) -> str:
        return self.community.tokens[name]

    def feed(self, events: Iterable[Event]) -> None:
        with self.db.transaction() as session:
            for event in events:
                self.consumer.apply(session, Delivery("t", 0, 0, None, None, (), 0, event))

    def get(self, url: str, who: str = "reader", **params: Any) -> Any:
        return self.client.get(url, params=params, headers=auth(self.token(who)))

    def post(self, url: str, who: str = "reader", body: Any = None) -> Any:
        return self.client.post(url, json=body if body is not None else {}, headers=auth(self.token(who)))

    def put(self, url: str, who: str = "reader", body: Any = None) -> Any:
        return self.client.put(url, json=body, headers=auth(self.token(who)))


@pytest.fixture
def reading(community: Community) -> Iterator[Reading]:  # noqa: F811 - the fixture imported above
    with community.db.transaction() as session:
        community.tokens["reader2"] = issue_token(session, "reader-li", "reader", "cty01")
        community.tokens["lead"] = issue_token(session, "lead-wang", "reading_lead", "cty01")
    yield Reading(community, ReadingConsumer(community.client.app.state.settings))
