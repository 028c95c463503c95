"""Shared steps of the delivery tests: a member's config, queuing results, a running sender."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select

from consumers.delivery import queue
from consumers.delivery.consumer import DeliveryConsumer
from consumers.delivery.models import DestinationState, OutboundMessage
from consumers.delivery.routing import Route, all_routes, routes_from
from consumers.delivery.sender import DestinationSender, Pacing
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event

QUICK = Pacing(idle_s=0.05, down_initial_s=0.05, down_max_s=0.3, retry_initial_s=0.05, retry_max_s=0.3)


def member_config(facility: str = "th01", *destinations: dict[str, Any]) -> ConnectorConfig:
    return ConnectorConfig.model_validate({"name": f"{facility}-his", "kind": "his_db", "facility_id": facility,
                                           "deliver_to": list(destinations)})


def mllp(port: int, charset: str = "UTF-8", timeout_s: float = 2.0) -> dict[str, Any]:
    return {"kind": "mllp", "host": "127.0.0.1", "port": port, "charset": charset, "timeout_s": timeout_s}


def fhir(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "fhir", "url": url, "timeout_s": 2.0, **extra}


def queue_results(db: Database, settings: HubSettings, config: ConnectorConfig, *events: Event) -> None:
    consumer = DeliveryConsumer(settings, routes_from([config]))
    with db.transaction() as session:
        consumer.apply_batch(session, [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)])


def route_of(config: ConnectorConfig, index: int = 0) -> Route:
    return all_routes(routes_from([config]))[index]


@contextmanager
def sending(db: Database, route: Route, pacing: Pacing = QUICK) -> Iterator[threading.Event]:
    stop = threading.Event()
    queue.register(db, [route])
    thread = threading.Thread(target=DestinationSender(route, db, pacing).run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(20)


def messages(db: Database, destination: str | None = None) -> list[OutboundMessage]:
    with db.sessions() as session:
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        if destination:
            query = query.where(OutboundMessage.destination == destination)
        return list(session.scalars(query))


def states(db: Database, *wanted: str) -> bool:
    return all(m.state in wanted for m in messages(db))


def destination(db: Database, key: str) -> DestinationState:
    with db.sessions() as session:
        row = session.get(DestinationState, key)
        assert row is not None
        return row
