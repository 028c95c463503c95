"""Stock on hand from the ledger, whatever order its records arrived in.

The latest snapshot of a member's drug is the truth at its time: movements at or before it are already in
its count (a late movement is never counted twice), movements after it change it. A snapshot that arrives
late simply becomes the latest and resets. Out-movements that name no batch are taken from the batches that
expire first, as the shelf is used. Average daily use counts dispenses only (what patients take; losses,
expiries and transfers are not demand) over the last 30 days, or over the days since the member's first
record of the drug when that is shorter (at least one day).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from consumers.drug_supply.models import StockEntry
from consumers.drug_supply.records import SNAPSHOT

USE_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Batch:
    lot: str
    expiry: date | None
    quantity: float

    def as_dict(self) -> dict[str, object]:
        return {"lot": self.lot, "expiry": self.expiry.isoformat() if self.expiry else None, "quantity": self.quantity}


@dataclass(frozen=True)
class Position:
    on_hand: float
    batches: tuple[Batch, ...]  # first to expire first; none empty
    daily_use: float
    counted_at: datetime | None

    @property
    def days_of_supply(self) -> float | None:
        return self.on_hand / self.daily_use if self.daily_use > 0 else None


def _fefo(batch: tuple[str, date | None]) -> tuple[date, str]:
    return (batch[1] or date.max, batch[0])


def position(entries: Iterable[StockEntry], now: datetime) -> Position:
    rows = sorted(entries, key=lambda e: (e.at, e.id or 0))
    snapshots = [e for e in rows if e.kind == SNAPSHOT]
    counted_at = max((e.at for e in snapshots), default=None)
    stock: dict[tuple[str, date | None], float] = {}
    for entry in snapshots:
        if entry.at == counted_at:
            key = (entry.lot, entry.expiry)
            stock[key] = stock.get(key, 0.0) + entry.quantity
    for entry in rows:
        if entry.kind == SNAPSHOT or (counted_at is not None and entry.at <= counted_at):
            continue
        if entry.quantity < 0 and not entry.lot:
            _take_first_expiring(stock, -entry.quantity)
        else:
            key = next((k for k in stock if k[0] == entry.lot), (entry.lot, entry.expiry))
            stock[key] = stock.get(key, 0.0) + entry.quantity
    batches = tuple(Batch(lot, expiry, round(q, 3)) for (lot, expiry), q in sorted(stock.items(), key=lambda i: _fefo(i[0]))
                    if q > 0)
    since = now - timedelta(days=USE_WINDOW_DAYS)
    dispensed = -sum(e.quantity for e in rows if e.kind == "dispense" and since < e.at <= now)
    first = rows[0].at if rows else now
    window = min(float(USE_WINDOW_DAYS), max(1.0, (now - first).total_seconds() / 86400))
    return Position(round(sum(b.quantity for b in batches), 3), batches, round(dispensed / window, 3), counted_at)


def _take_first_expiring(stock: dict[tuple[str, date | None], float], quantity: float) -> None:
    for key in sorted(stock, key=_fefo):
        if quantity <= 0:
            return
        taken = min(stock[key], quantity)
        if taken > 0:
            stock[key] -= taken
            quantity -= taken
    if quantity > 0:  # more went out than was known to be there: the shelf shows it as missing stock
        stock[("", None)] = stock.get(("", None), 0.0) - quantity
