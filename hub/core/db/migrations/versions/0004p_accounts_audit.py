"""accounts and sessions for the pages, token expiry, audit rows with address and every patient

Revision ID: 0004p
Revises: 0004i
Create Date: 2026-11-27 15:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004p"
down_revision: Union[str, Sequence[str], None] = "0004i"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("client", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("method", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("query", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("uid", sa.String(length=32), nullable=True))
    # Rows written before this revision get a uid of their own; new rows get one from the hub.
    op.execute("UPDATE audit_log SET uid = 'legacy' || CAST(id AS VARCHAR(20)) WHERE uid IS NULL")
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
    op.create_index("ix_audit_log_uid", "audit_log", ["uid"], unique=True)
    op.create_table(
        "audit_patient",
        sa.Column("audit_uid", sa.String(length=32), sa.ForeignKey("audit_log.uid", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("patient_id", sa.String(length=128), nullable=False),
        sa.Column("community_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("audit_uid", "patient_id"),
    )
    op.create_index("ix_audit_patient_patient_id", "audit_patient", ["patient_id"])
    op.create_index("ix_audit_patient_community_id", "audit_patient", ["community_id"])
    op.create_table(
        "hub_user",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("facility_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "web_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("hub_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_web_session_user_id", "web_session", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_web_session_user_id", table_name="web_session")
    op.drop_table("web_session")
    op.drop_table("hub_user")
    op.drop_index("ix_audit_patient_community_id", table_name="audit_patient")
    op.drop_index("ix_audit_patient_patient_id", table_name="audit_patient")
    op.drop_table("audit_patient")
    op.drop_index("ix_audit_log_uid", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        for column in ("uid", "status", "query", "path", "method", "client"):
            batch.drop_column(column)
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
