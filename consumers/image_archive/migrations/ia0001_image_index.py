"""image_archive: the index of studies, series and instances (the part's own branch starts here).

Revision ID: ia0001
Depends on: 0004p
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ia0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("image_archive",)
depends_on: str | Sequence[str] | None = "0004p"


def upgrade() -> None:
    op.create_table(
        "image_study",
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("patient_key", sa.String(length=100), nullable=False),
        sa.Column("dicom_patient_id", sa.String(length=64), nullable=False),
        sa.Column("patient_name", sa.String(length=200), nullable=True),
        sa.Column("study_date", sa.String(length=8), nullable=True),
        sa.Column("study_time", sa.String(length=16), nullable=True),
        sa.Column("accession_number", sa.String(length=64), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("imaging_study_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("study_uid"),
    )
    for column in ("facility_id", "patient_id", "patient_key", "dicom_patient_id", "study_date", "accession_number"):
        op.create_index(f"ix_image_study_{column}", "image_study", [column])
    op.create_table(
        "image_series",
        sa.Column("series_uid", sa.String(length=64), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("series_number", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("series_uid"),
    )
    op.create_index("ix_image_series_study_uid", "image_series", ["study_uid"])
    op.create_index("ix_image_series_modality", "image_series", ["modality"])
    op.create_table(
        "image_instance",
        sa.Column("sop_uid", sa.String(length=64), nullable=False),
        sa.Column("series_uid", sa.String(length=64), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=False),
        sa.Column("instance_number", sa.Integer(), nullable=True),
        sa.Column("transfer_syntax", sa.String(length=64), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("columns", sa.Integer(), nullable=True),
        sa.Column("photometric", sa.String(length=16), nullable=True),
        sa.Column("row_spacing_mm", sa.Float(), nullable=True),
        sa.Column("column_spacing_mm", sa.Float(), nullable=True),
        sa.Column("window_center", sa.Float(), nullable=True),
        sa.Column("window_width", sa.Float(), nullable=True),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_size", sa.Integer(), nullable=False),
        sa.Column("dicom_json", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sop_uid"),
    )
    for column in ("series_uid", "study_uid", "blob_sha256"):
        op.create_index(f"ix_image_instance_{column}", "image_instance", [column])


def downgrade() -> None:
    op.drop_table("image_instance")
    op.drop_table("image_series")
    op.drop_table("image_study")
