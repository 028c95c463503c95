"""ecg: the ECG part's own branch starts here with its two tables.

Revision ID: ecg0001
Depends on: 0004p
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ecg0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ecg",)
depends_on: str | Sequence[str] | None = "0004p"


def upgrade() -> None:
    op.create_table(
        "ecg_study",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("facility_id", sa.String(length=32), nullable=False),
        sa.Column("patient_key", sa.String(length=100), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("waveform_ref", sa.String(length=80), nullable=True),
        sa.Column("dicom_ref", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("measurements", sa.Text(), nullable=True),
        sa.Column("device", sa.Text(), nullable=True),
        sa.Column("sampling_frequency", sa.Float(), nullable=True),
        sa.Column("derived_leads", sa.String(length=40), nullable=True),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("study_uid", "facility_id", "patient_key", "patient_id", "started_at", "status"):
        op.create_index(f"ix_ecg_study_{column}", "ecg_study", [column])
    op.create_table(
        "ecg_observation",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("study_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ecg_observation_study_id", "ecg_observation", ["study_id"])


def downgrade() -> None:
    op.drop_table("ecg_observation")
    op.drop_table("ecg_study")
