"""Suggested replenishment of village clinics (药物配供): bring each drug a clinic uses to the target number of
days of supply, from its township's stock first and then the county's, taking the batches that expire first.

A supplier keeps its own reserve (reserve days of its own use) and is never asked for more than it holds
above it; what is already on its way (deliveries requested or shipped) counts as held by the clinic. Pure:
the caller reads the levels and deliveries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from consumers.drug_supply.hierarchy import suppliers, villages
from consumers.drug_supply.ledger import Batch


@dataclass(frozen=True)
class Holding:
    on_hand: float
    daily_use: float
    batches: tuple[Batch, ...]  # first to expire first
    name: str


@dataclass(frozen=True)
class Line:
    source: str
    lot: str
    expiry: date | None
    quantity: float


@dataclass(frozen=True)
class Suggestion:
    village: str
    drug_key: str
    name: str
    on_hand: float
    daily_use: float
    days_of_supply: float
    in_flight: float
    need: float
    lines: tuple[Line, ...] = field(default=())

    @property
    def short(self) -> float:
        """What neither the township nor the county can give."""
        return max(0.0, self.need - sum(line.quantity for line in self.lines))


def suggest(holdings: Mapping[tuple[str, str], Holding], parents: Mapping[str, str], in_flight: Mapping[tuple[str, str], float],
            target_days: float, reserve_days: float, today: date) -> list[Suggestion]:
    """Suggestions, the clinic with the fewest days of supply first."""
    spare: dict[tuple[str, str], dict[str, float]] = {}  # what each supplier's batches may still give

    def spare_of(source: str, drug_key: str) -> dict[str, float]:
        key = (source, drug_key)
        if key not in spare:
            held = holdings.get(key)
            room = 0.0 if held is None else max(0.0, held.on_hand - reserve_days * held.daily_use)
            lots: dict[str, float] = {}
            # First to expire first, whatever order the holding lists them in; undated batches last.
            for batch in sorted(held.batches if held else (), key=lambda b: (b.expiry or date.max, b.lot)):
                if room <= 0:
                    break
                if batch.expiry is not None and batch.expiry <= today:
                    continue  # expired stock is not sent
                lots[batch.lot] = min(batch.quantity, room)
                room -= lots[batch.lot]
            spare[key] = lots
        return spare[key]

    wanted = []
    for village in villages(parents):
        for (facility, drug_key), held in holdings.items():
            if facility != village or held.daily_use <= 0:
                continue
            coming = in_flight.get((village, drug_key), 0.0)
            need = math.ceil(target_days * held.daily_use - held.on_hand - coming)
            if need > 0:
                wanted.append((held.on_hand / held.daily_use, village, drug_key, held, coming, need))
    suggestions = []
    for days, village, drug_key, held, coming, need in sorted(wanted, key=lambda w: (w[0], w[1], w[2])):
        lines, left = [], float(need)
        for source in suppliers(parents, village):
            source_held = holdings.get((source, drug_key))
            for lot, room in spare_of(source, drug_key).items():
                if left <= 0:
                    break
                take = min(room, left)
                if take <= 0:
                    continue
                expiry = next((b.expiry for b in source_held.batches if b.lot == lot), None) if source_held else None
                lines.append(Line(source, lot, expiry, take))
                spare[(source, drug_key)][lot] -= take
                left -= take
        suggestions.append(Suggestion(village, drug_key, held.name, held.on_hand, held.daily_use, round(days, 1),
                                      coming, float(need), tuple(lines)))
    return suggestions
