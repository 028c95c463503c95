"""The worker beside the consumer: records the supply hierarchy the hub was told, then re-checks every
stock level now and then, because time alone moves warnings (a batch comes near expiry, old dispenses leave
the 30-day window) when no stock event arrives."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from consumers.drug_supply import metrics
from consumers.drug_supply.consumer import thresholds_of
from consumers.drug_supply.deliveries import fill_rate
from consumers.drug_supply.hierarchy import parents_from, save_parents
from consumers.drug_supply.levels import Desk, publish_open, refresh_drug
from consumers.drug_supply.models import StockLevel
from hub.core.db import Database, is_retriable
from hub.core.events import utcnow
from hub.core.parts import PartContext
from hub.core.terminology import community_terminology

log = logging.getLogger(__name__)
EVERY_S = 300.0


def recheck(database: Database, desk: Desk, now: datetime) -> int:
    """Recomputes every member's drug, one short transaction each; returns how many."""
    with database.reading() as session:
        keys = [(r.facility_id, r.drug_key, r.community_code, r.local_code, r.drug_name)
                for r in session.scalars(select(StockLevel))]
    for facility, drug_key, community, local, name in keys:
        with database.transaction() as session:
            refresh_drug(session, desk, facility, drug_key, (community, local, name), now)
    with database.transaction() as session:
        publish_open(session)
        rate = fill_rate(session)
    if rate["fill_rate"] is not None:  # after a restart too, not only when a delivery moves
        metrics.FILL_RATE.set(rate["fill_rate"])
        metrics.ON_TIME.set(rate["on_time"])
    return len(keys)


def run(context: PartContext, stop: threading.Event, clock: Callable[[], datetime] = utcnow) -> None:
    with context.database.transaction() as session:
        save_parents(session, parents_from(context.settings, context.connector_configs))
    desk = Desk(thresholds_of(context.settings), community_terminology(), context.results)
    while not stop.is_set():
        try:
            recheck(context.database, desk, clock())
        except Exception as exc:  # noqa: BLE001 - nothing may end the worker: the next pass tries again
            if is_retriable(exc):
                log.warning("drug supply re-check waits for the database (%s)", type(exc).__name__)
            else:
                log.exception("drug supply re-check failed; trying again in %.0f s", EVERY_S)
        stop.wait(EVERY_S)
