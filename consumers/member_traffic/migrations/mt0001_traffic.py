"""member_traffic: members seen and their events per hour (its own branch starts here).

Revision ID: mt0001
Depends on: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "mt0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("member_traffic",)
depends_on: str | Sequence[str] | None = "0005"


def upgrade() -> None:
    op.create_table(
        "member_seen",
        sa.Column("facility_id", sa.String(32), primary_key=True),
        sa.Column("first_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "member_hour",
        sa.Column("facility_id", sa.String(32), primary_key=True),
        sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("hour_of_week", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
    )
    op.create_index("member_hour_start", "member_hour", ["hour_start"])


def downgrade() -> None:
    op.drop_table("member_hour")
    op.drop_table("member_seen")
