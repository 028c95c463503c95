"""patient index: match features on links, blocking keys, reviews, link history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("patient_link") as batch:
        batch.add_column(sa.Column("facility_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("features", sa.Text(), nullable=True))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("rules_version", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()))

    # Identifiers now name the member record that first carried them, not a community.
    with op.batch_alter_table("patient_identifier") as batch:
        batch.add_column(sa.Column("patient_key", sa.String(length=100), nullable=True))
    op.execute(
        "UPDATE patient_identifier SET patient_key = (SELECT min(l.patient_key) FROM patient_link l "
        "WHERE l.community_patient_id = patient_identifier.community_patient_id)"
    )
    op.execute("DELETE FROM patient_identifier WHERE patient_key IS NULL")
    with op.batch_alter_table("patient_identifier") as batch:
        batch.drop_index("ix_patient_identifier_community_patient_id")
        batch.drop_column("community_patient_id")
        batch.alter_column("patient_key", existing_type=sa.String(length=100), nullable=False)
        batch.create_index("ix_patient_identifier_patient_key", ["patient_key"], unique=False)

    op.create_table(
        "mpi_block",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("patient_key", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", "patient_key"),
    )
    op.create_index("ix_mpi_block_patient_key", "mpi_block", ["patient_key"], unique=False)
    op.create_table(
        "mpi_review",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("patient_key", sa.String(length=100), nullable=False),
        sa.Column("candidate_key", sa.String(length=100), nullable=False),
        sa.Column("candidate_community_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rules_version", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mpi_review_patient_key", "mpi_review", ["patient_key"], unique=False)
    op.create_index("ix_mpi_review_candidate_community_id", "mpi_review", ["candidate_community_id"], unique=False)
    op.create_index("ix_mpi_review_status", "mpi_review", ["status"], unique=False)
    op.create_table(
        "mpi_link_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operation_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("patient_key", sa.String(length=100), nullable=True),
        sa.Column("source_patient_id", sa.String(length=64), nullable=True),
        sa.Column("from_community_id", sa.String(length=64), nullable=True),
        sa.Column("to_community_id", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("operation_id", "patient_key", "source_patient_id", "to_community_id"):
        op.create_index(f"ix_mpi_link_history_{column}", "mpi_link_history", [column], unique=False)


def downgrade() -> None:
    op.drop_table("mpi_link_history")
    op.drop_table("mpi_review")
    op.drop_table("mpi_block")
    with op.batch_alter_table("patient_identifier") as batch:
        batch.add_column(sa.Column("community_patient_id", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE patient_identifier SET community_patient_id = (SELECT l.community_patient_id FROM patient_link l "
        "WHERE l.patient_key = patient_identifier.patient_key)"
    )
    with op.batch_alter_table("patient_identifier") as batch:
        batch.drop_index("ix_patient_identifier_patient_key")
        batch.drop_column("patient_key")
        batch.create_index("ix_patient_identifier_community_patient_id", ["community_patient_id"], unique=False)
    with op.batch_alter_table("patient_link") as batch:
        for column in ("pinned", "rules_version", "score", "features", "facility_id"):
            batch.drop_column(column)
