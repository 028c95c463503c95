"""The probe's one table, declared on the hub's metadata like every part's tables.

A plain Table rather than a mapped class, so the registration test can take it out of the process-wide
metadata again afterwards (a mapped class would stay in the declarative registry)."""

from sqlalchemy import Column, Integer, String, Table

from hub.core.db.models import Base

probe_note = Table(
    "probe_note",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(40), nullable=False),
)
