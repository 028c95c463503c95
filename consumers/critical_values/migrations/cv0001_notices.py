"""critical_values: notices and the values the rules could not check (its own branch starts here).

Revision ID: cv0001
Depends on: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cv0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("critical_values",)
depends_on: str | Sequence[str] | None = "0005"


def upgrade() -> None:
    op.create_table(
        "critical_notice",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("about", sa.String(100), nullable=False),
        sa.Column("origin_event_id", sa.String(80), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("related", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("ack_s", sa.Float(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level1_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("level2_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_to", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_name", sa.String(100), nullable=True),
        sa.Column("ack_role", sa.String(100), nullable=True),
        sa.Column("ack_action", sa.Text(), nullable=True),
        sa.Column("ack_credential", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_critical_notice_facility_id", "critical_notice", ["facility_id"])
    op.create_index("ix_critical_notice_status", "critical_notice", ["status"])
    op.create_index("critical_notice_open_due", "critical_notice", ["status", "due_at"])
    op.create_table(
        "critical_unchecked",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(80), nullable=False),
        sa.Column("observation_id", sa.String(64), nullable=False),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("analyte", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "observation_id", name="critical_unchecked_once"),
    )
    op.create_index("ix_critical_unchecked_facility_id", "critical_unchecked", ["facility_id"])


def downgrade() -> None:
    op.drop_table("critical_unchecked")
    op.drop_table("critical_notice")
