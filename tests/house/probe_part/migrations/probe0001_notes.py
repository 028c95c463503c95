"""probe: its own branch, one table.

Revision ID: probe0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "probe0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("probe",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "probe_note",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("probe_note")
