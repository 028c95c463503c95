"""Tables of the drug supply part: the stock ledger as members sent it, the stock each member holds now
(recomputed from the ledger), warnings with their raise/clear times, deliveries to village clinics and the
prescriptions counted for 集采 use. No patient is named anywhere."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class StockEntry(Base):
    """One stock record (a batch count or a movement) as a member sent it. Kept whatever order it came in:
    the stock is recomputed from these, so a late snapshot or an old movement lands where it belongs."""

    __tablename__ = "supply_stock_entry"
    __table_args__ = (UniqueConstraint("facility_id", "movement_id", name="supply_stock_entry_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    facility_id: Mapped[str] = mapped_column(String(32))
    movement_id: Mapped[str] = mapped_column(String(100))  # the member's id of the movement: re-sent = duplicate
    kind: Mapped[str] = mapped_column(String(16))
    drug_key: Mapped[str] = mapped_column(String(80))  # community code, or local:<member code>
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[date | None] = mapped_column(Date())
    quantity: Mapped[float] = mapped_column(Float)  # signed: out is negative; the count for a snapshot
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[str] = mapped_column(String(80))


Index("supply_stock_entry_drug", StockEntry.facility_id, StockEntry.drug_key, StockEntry.at)


class StockLevel(Base):
    """What one member holds of one drug now, with its use and batches (a projection of the ledger)."""

    __tablename__ = "supply_stock_level"

    facility_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    drug_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    community_code: Mapped[str | None] = mapped_column(String(32))  # None: a local code the catalogue lacks
    local_code: Mapped[str | None] = mapped_column(String(64))
    drug_name: Mapped[str] = mapped_column(String(200))
    on_hand: Mapped[float] = mapped_column(Float)
    daily_use: Mapped[float] = mapped_column(Float)  # average daily dispensing over the last 30 days
    days_of_supply: Mapped[float | None] = mapped_column(Float)  # None: not being used
    batches: Mapped[str] = mapped_column(Text)  # JSON [{lot, expiry, quantity}], first to expire first
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the latest snapshot
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockWarning(Base):
    """A warning raised once and cleared once. `open_key` is set only while open and is unique, so the same
    warning can never be open twice (NULLs do not collide, in SQLite or PostgreSQL)."""

    __tablename__ = "supply_warning"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # stockout | low | near_expiry | shortage
    facility_id: Mapped[str] = mapped_column(String(32))  # "county" for a county-level shortage
    drug_key: Mapped[str] = mapped_column(String(80), index=True)
    drug_name: Mapped[str] = mapped_column(String(200))
    lot: Mapped[str] = mapped_column(String(64), default="")
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | cleared
    detail: Mapped[str] = mapped_column(Text)  # JSON: the figures that raised it
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SupplyDelivery(Base):
    """A delivery to a village clinic, from request to receipt (配送)."""

    __tablename__ = "supply_delivery"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    village_id: Mapped[str] = mapped_column(String(32), index=True)
    source_id: Mapped[str] = mapped_column(String(32))  # the township or county that sends it
    drug_key: Mapped[str] = mapped_column(String(80))
    drug_name: Mapped[str] = mapped_column(String(200))
    requested_qty: Mapped[float] = mapped_column(Float)
    lots: Mapped[str] = mapped_column(Text)  # JSON [{lot, expiry, quantity}] suggested, first to expire first
    state: Mapped[str] = mapped_column(String(16), index=True)  # requested | shipped | received | cancelled
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipped_qty: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_qty: Mapped[float | None] = mapped_column(Float)
    received_by: Mapped[str | None] = mapped_column(String(100))


class SupplyPrescription(Base):
    """A prescription line counted for 集采 use: its drug, and a 集采 equivalent when one existed."""

    __tablename__ = "supply_prescription"
    __table_args__ = (UniqueConstraint("facility_id", "prescription_id", name="supply_prescription_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    facility_id: Mapped[str] = mapped_column(String(32), index=True)
    prescription_id: Mapped[str] = mapped_column(String(64))
    drug_key: Mapped[str] = mapped_column(String(80))
    drug_name: Mapped[str] = mapped_column(String(200))
    vbp: Mapped[bool] = mapped_column(Boolean)
    equivalent: Mapped[str | None] = mapped_column(String(32))  # a 集采 drug of the same ATC, when not itself
    authored_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SupplyFacility(Base):
    """The supply hierarchy as the hub was told at start (HUB_FACILITY_PARENTS and the connector configs'
    parent_facility), kept so the HTTP side and every process see the same tree."""

    __tablename__ = "supply_facility"

    facility_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_id: Mapped[str] = mapped_column(String(32))
