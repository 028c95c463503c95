"""The supply hierarchy village -> township -> county: who replenishes whom.

Told at start by HUB_FACILITY_PARENTS (settings.facility_parents) and by each member's connector config
(`parent_facility`); the settings win. Kept in the database so the pages and every process see one tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consumers.drug_supply.models import SupplyFacility


def parents_from(settings: Any, connector_configs: Iterable[Any]) -> dict[str, str]:
    parents = {c.facility_id: c.parent_facility for c in connector_configs if getattr(c, "parent_facility", None)}
    parents.update(settings.facility_parents)
    return parents


def save_parents(session: Session, parents: Mapping[str, str]) -> None:
    """Replaces the kept tree when the hub was told one (an empty one keeps what is there)."""
    if not parents:
        return
    session.execute(delete(SupplyFacility))
    session.add_all(SupplyFacility(facility_id=child, parent_id=parent) for child, parent in sorted(parents.items()))


def load_parents(session: Session) -> dict[str, str]:
    return {row.facility_id: row.parent_id for row in session.scalars(select(SupplyFacility))}


def villages(parents: Mapping[str, str]) -> list[str]:
    """Members two steps below a root: their parent (a township) has a parent (the county)."""
    return sorted(child for child, parent in parents.items() if parent in parents)


def suppliers(parents: Mapping[str, str], village: str) -> list[str]:
    """Where a village clinic is replenished from, nearest first: its township, then the county."""
    chain: list[str] = []
    at = parents.get(village)
    while at is not None and at not in chain and len(chain) < 2:
        chain.append(at)
        at = parents.get(at)
    return chain
