"""indicators: the facts the county indicators count and the imported insurance settlements (its own branch).

Revision ID: ind0001
Depends on: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ind0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("indicators",)
depends_on: str | Sequence[str] | None = "0005"


def upgrade() -> None:
    op.create_table(
        "indicator_visit",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("visit_class", sa.String(8), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("diagnoses", sa.String(300), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_indicator_visit_month", "indicator_visit", ["month", "facility_id"])
    op.create_index("ix_indicator_visit_patient_key", "indicator_visit", ["patient_key"])
    op.create_table(
        "indicator_result",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("codes", sa.String(500), nullable=False),
        sa.Column("display", sa.String(200), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
    )
    op.create_index("ix_indicator_result_patient", "indicator_result", ["patient_key", "effective_at"])
    op.create_index("ix_indicator_result_month", "indicator_result", ["month"])
    op.create_table(
        "indicator_prescription",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("facility_id", sa.String(32), nullable=False),
        sa.Column("patient_key", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("drug_code", sa.String(32), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("vbp", sa.String(32), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("authored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
    )
    op.create_index("ix_indicator_prescription_month", "indicator_prescription", ["month", "facility_id"])
    op.create_table(
        "indicator_insurance_month",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(100), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "indicator_insurance_visit",
        sa.Column("settlement_id", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("settled_on", sa.String(10), nullable=False),
        sa.Column("visit_type", sa.String(16), nullable=False),
        sa.Column("hospital", sa.String(200), nullable=False),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("insured_id", sa.String(64), nullable=True),
        sa.Column("diagnosis", sa.String(200), nullable=True),
    )
    op.create_index("ix_indicator_insurance_visit_month", "indicator_insurance_visit", ["month"])


def downgrade() -> None:
    for table in ("indicator_insurance_visit", "indicator_insurance_month", "indicator_prescription",
                  "indicator_result", "indicator_visit"):
        op.drop_table(table)
