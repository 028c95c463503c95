"""drug_supply: the stock ledger, stock levels, warnings, deliveries and 集采 prescriptions (its own branch).

Revision ID: ds0001
Depends on: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ds0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("drug_supply",)
depends_on: str | Sequence[str] | None = "0005"


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "supply_stock_entry",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("movement_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("drug_key", sa.String(80), nullable=False),
        sa.Column("lot", sa.String(64), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=False),
        _time("at"),
        sa.Column("event_id", sa.String(80), nullable=False),
        sa.UniqueConstraint("facility_id", "movement_id", name="supply_stock_entry_once"),
    )
    op.create_index("supply_stock_entry_drug", "supply_stock_entry", ["facility_id", "drug_key", "at"])
    op.create_table(
        "supply_stock_level",
        sa.Column("facility_id", sa.String(32), primary_key=True),
        sa.Column("drug_key", sa.String(80), primary_key=True),
        sa.Column("community_code", sa.String(32), nullable=True),
        sa.Column("local_code", sa.String(64), nullable=True),
        sa.Column("drug_name", sa.String(200), nullable=False),
        sa.Column("on_hand", sa.Float(), nullable=False),
        sa.Column("daily_use", sa.Float(), nullable=False),
        sa.Column("days_of_supply", sa.Float(), nullable=True),
        sa.Column("batches", sa.Text(), nullable=False),
        _time("counted_at", nullable=True),
        _time("updated_at"),
    )
    op.create_table(
        "supply_warning",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("drug_key", sa.String(80), nullable=False),
        sa.Column("drug_name", sa.String(200), nullable=False),
        sa.Column("lot", sa.String(64), nullable=False),
        sa.Column("open_key", sa.String(200), nullable=True, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _time("raised_at"),
        _time("cleared_at", nullable=True),
    )
    op.create_index("ix_supply_warning_kind", "supply_warning", ["kind"])
    op.create_index("ix_supply_warning_drug_key", "supply_warning", ["drug_key"])
    op.create_index("ix_supply_warning_status", "supply_warning", ["status"])
    op.create_table(
        "supply_delivery",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("village_id", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(32), nullable=False),
        sa.Column("drug_key", sa.String(80), nullable=False),
        sa.Column("drug_name", sa.String(200), nullable=False),
        sa.Column("requested_qty", sa.Float(), nullable=False),
        sa.Column("lots", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _time("requested_at"),
        sa.Column("requested_by", sa.String(100), nullable=False),
        _time("due_at"),
        _time("shipped_at", nullable=True),
        sa.Column("shipped_qty", sa.Float(), nullable=True),
        _time("received_at", nullable=True),
        sa.Column("received_qty", sa.Float(), nullable=True),
        sa.Column("received_by", sa.String(100), nullable=True),
    )
    op.create_index("ix_supply_delivery_village_id", "supply_delivery", ["village_id"])
    op.create_index("ix_supply_delivery_state", "supply_delivery", ["state"])
    op.create_table(
        "supply_prescription",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("prescription_id", sa.String(64), nullable=False),
        sa.Column("drug_key", sa.String(80), nullable=False),
        sa.Column("drug_name", sa.String(200), nullable=False),
        sa.Column("vbp", sa.Boolean(), nullable=False),
        sa.Column("equivalent", sa.String(32), nullable=True),
        _time("authored_at"),
        sa.UniqueConstraint("facility_id", "prescription_id", name="supply_prescription_once"),
    )
    op.create_index("ix_supply_prescription_facility_id", "supply_prescription", ["facility_id"])
    op.create_table(
        "supply_facility",
        sa.Column("facility_id", sa.String(32), primary_key=True),
        sa.Column("parent_id", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for table in ("supply_facility", "supply_prescription", "supply_delivery", "supply_warning", "supply_stock_level",
                  "supply_stock_entry"):
        op.drop_table(table)
