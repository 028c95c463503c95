"""pharmacy: medications, allergies, renal labs, patients, reviews, the mapping queue and rule versions
(its own branch starts here).

Revision ID: ph0001
Depends on: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ph0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("pharmacy",)
depends_on: str | Sequence[str] | None = "0005"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pharmacy_medication",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("drug_code", sa.String(32), nullable=True),
        sa.Column("atc", sa.String(16), nullable=True),
        sa.Column("local_system", sa.String(120), nullable=True),
        sa.Column("local_code", sa.String(64), nullable=True),
        sa.Column("dose_text", sa.String(200), nullable=True),
        sa.Column("authored_at", TZ, nullable=True),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_pharmacy_medication_patient_key", "pharmacy_medication", ["patient_key"])
    op.create_index("pharmacy_medication_local", "pharmacy_medication", ["local_system", "local_code"])
    op.create_table(
        "pharmacy_allergy",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("substance", sa.String(200), nullable=False),
        sa.Column("atc", sa.String(16), nullable=True),
        sa.Column("criticality", sa.String(24), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("recorded_at", TZ, nullable=True),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_pharmacy_allergy_patient_key", "pharmacy_allergy", ["patient_key"])
    op.create_table(
        "pharmacy_lab",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("analyte", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("observed_at", TZ, nullable=False),
    )
    op.create_index("ix_pharmacy_lab_patient_key", "pharmacy_lab", ["patient_key"])
    op.create_table(
        "pharmacy_patient",
        sa.Column("patient_key", sa.String(100), primary_key=True),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("birth_date", sa.String(10), nullable=True),
        sa.Column("sex", sa.String(16), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("pregnant", sa.Boolean(), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "pharmacy_review",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("prescription", sa.String(100), nullable=False, unique=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("community_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("waits_for_mapping", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("reviewed_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_pharmacy_review_facility_id", "pharmacy_review", ["facility_id"])
    op.create_index("pharmacy_review_queue", "pharmacy_review", ["status", "due_at"])
    op.create_table(
        "pharmacy_local_code",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(120), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("display", sa.String(200), nullable=True),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("first_seen", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
        sa.Column("drug_code", sa.String(32), nullable=True),
        sa.Column("mapped_by", sa.String(100), nullable=True),
        sa.Column("mapped_at", TZ, nullable=True),
        sa.UniqueConstraint("system", "code", name="pharmacy_local_code_once"),
    )
    op.create_index("ix_pharmacy_local_code_facility_id", "pharmacy_local_code", ["facility_id"])
    op.create_table(
        "pharmacy_rule_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("pharmacy_rule_version", "pharmacy_local_code", "pharmacy_review", "pharmacy_patient",
                  "pharmacy_lab", "pharmacy_allergy", "pharmacy_medication"):
        op.drop_table(table)
