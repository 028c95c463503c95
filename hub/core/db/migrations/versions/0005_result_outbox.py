"""result outbox: events the hub produces (reports, notices), written with the change they report

Revision ID: 0005
Revises: 0004p
Create Date: 2026-11-27 21:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004p"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "result_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("producer", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.UniqueConstraint("event_id", name="uq_result_outbox_event_id"),
    )
    op.create_index("ix_result_outbox_published_at", "result_outbox", ["published_at"])
    op.create_table(
        "result_outbox_meta",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("result_outbox_meta")
    op.drop_index("ix_result_outbox_published_at", table_name="result_outbox")
    op.drop_table("result_outbox")
