"""delivery: the outbound messages to members and the state of each destination.

Revision ID: dlv0001
Depends on: 0004p
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dlv0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("delivery",)
depends_on: str | Sequence[str] | None = "0004p"


def upgrade() -> None:
    op.create_table(
        "delivery_message",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(80), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("destination", sa.String(80), nullable=False),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("resource", sa.String(100), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("event_id", "destination", name="uq_delivery_message_event_destination"),
    )
    op.create_index("ix_delivery_message_queue", "delivery_message", ["destination", "state", "patient_key", "id"])
    op.create_index("ix_delivery_message_done_at", "delivery_message", ["done_at"])
    op.create_table(
        "delivery_destination",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("sent_total", sa.Integer(), nullable=False),
        sa.Column("acknowledged_total", sa.Integer(), nullable=False),
        sa.Column("refused_total", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(100), nullable=True),
        sa.Column("sender_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("delivery_destination")
    op.drop_index("ix_delivery_message_done_at", "delivery_message")
    op.drop_index("ix_delivery_message_queue", "delivery_message")
    op.drop_table("delivery_message")
