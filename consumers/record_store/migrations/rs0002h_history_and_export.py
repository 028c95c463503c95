"""record_store: every version of every resource (vread, _history) and Bulk Data export jobs.

The current version of each stored resource becomes its first history row, so a database made by an
earlier version serves vread of what it holds; older versions were never kept and stay unknown.

Revision ID: rs0002h
Revises: rs0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rs0002h"
down_revision: str | Sequence[str] | None = "rs0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_resource_history",
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("facility_id", sa.String(length=32), nullable=True),
        sa.Column("golden", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("resource_type", "id", "version_id"),
    )
    op.create_index("fhir_resource_history_type_updated", "fhir_resource_history", ["resource_type", "last_updated"])
    op.execute(
        "INSERT INTO fhir_resource_history (resource_type, id, version_id, last_updated, facility_id, golden, deleted, content) "
        "SELECT resource_type, id, version_id, last_updated, facility_id, golden, false, content FROM fhir_resource"
    )
    op.create_table(
        "fhir_export_job",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transaction_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_url", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("facility_id", sa.String(length=32), nullable=True),
        sa.Column("progress", sa.String(length=200), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_fhir_export_job_status", "fhir_export_job", ["status"])


def downgrade() -> None:
    op.drop_index("ix_fhir_export_job_status", table_name="fhir_export_job")
    op.drop_table("fhir_export_job")
    op.drop_index("fhir_resource_history_type_updated", table_name="fhir_resource_history")
    op.drop_table("fhir_resource_history")
