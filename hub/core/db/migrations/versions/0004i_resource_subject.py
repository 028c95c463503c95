"""resources remember the Patient they name, so they reach that Patient's views whatever key their door
derived; audit rows hold patient keys of up to 100 characters

Revision ID: 0004i
Revises: 0003
Create Date: 2026-11-27 15:30:00

"""
import json
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004i"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_CHUNK = 1000


def upgrade() -> None:
    # Reads of a resource audit its patient key, which may be 100 characters (hub.core.limits).
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("patient_id", type_=sa.String(length=100), existing_type=sa.String(length=64),
                           existing_nullable=True)
    with op.batch_alter_table("fhir_resource") as batch:
        batch.add_column(sa.Column("subject_id", sa.String(length=64), nullable=True))
        batch.create_index("fhir_resource_subject", ["subject_id"], unique=False)
    connection = op.get_bind()
    resource = sa.table(
        "fhir_resource", sa.column("resource_type", sa.String), sa.column("id", sa.String),
        sa.column("content", sa.Text), sa.column("subject_id", sa.String), sa.column("patient_key", sa.String),
        sa.column("facility_id", sa.String), sa.column("golden", sa.Boolean),
    )
    # Backfill from the stored JSON, in chunks by primary key.
    after = ("", "")
    while True:
        rows = connection.execute(
            sa.select(resource.c.resource_type, resource.c.id, resource.c.content)
            .where(resource.c.resource_type != "Patient",
                   sa.tuple_(resource.c.resource_type, resource.c.id) > sa.tuple_(*after))
            .order_by(resource.c.resource_type, resource.c.id).limit(_CHUNK)
        ).all()
        if not rows:
            break
        for rtype, rid, content in rows:
            subject = _subject(content)
            if subject is not None:
                connection.execute(sa.update(resource).where(resource.c.resource_type == rtype, resource.c.id == rid)
                                   .values(subject_id=subject))
        after = (rows[-1][0], rows[-1][1])
    # Resources filed under another key than the member's own Patient they name join that Patient
    # (ids used to be lower-cased, so `OBS-T1`'s Patient and `Patient/th01-pat-obs-t1` disagreed).
    patient = resource.alias("patient")
    named = (
        sa.select(patient.c.patient_key)
        .where(patient.c.resource_type == "Patient", patient.c.id == resource.c.subject_id,
               patient.c.facility_id == resource.c.facility_id, patient.c.golden.is_(False),
               patient.c.patient_key.is_not(None))
        .scalar_subquery()
    )
    connection.execute(
        sa.update(resource)
        .where(resource.c.resource_type != "Patient", resource.c.subject_id.is_not(None), resource.c.golden.is_(False),
               sa.exists(sa.select(patient.c.id).where(
                   patient.c.resource_type == "Patient", patient.c.id == resource.c.subject_id,
                   patient.c.facility_id == resource.c.facility_id, patient.c.golden.is_(False),
                   patient.c.patient_key.is_not(None), patient.c.patient_key != resource.c.patient_key)))
        .values(patient_key=named)
    )


def _subject(content: str) -> str | None:
    try:
        resource = json.loads(content)
    except ValueError:
        return None
    for field in ("subject", "patient", "for"):
        reference = (resource.get(field) or {}).get("reference") if isinstance(resource.get(field), dict) else None
        if isinstance(reference, str) and reference.startswith("Patient/") and 0 < len(reference) - 8 <= 64:
            return reference[8:]
    return None


def downgrade() -> None:
    with op.batch_alter_table("fhir_resource") as batch:
        batch.drop_index("fhir_resource_subject")
        batch.drop_column("subject_id")
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("patient_id", type_=sa.String(length=64), existing_type=sa.String(length=100),
                           existing_nullable=True)
