"""record_store: fhir_search_index, the values every search parameter finds a resource by, filled for the
resources already stored (search/extract.py).

Revision ID: rs0003
Revises: rs0002h
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rs0003"
down_revision: str | Sequence[str] | None = "rs0002h"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fhir_search_index",
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(200), nullable=True),
        sa.Column("value", sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql"), nullable=True),
        sa.Column("exact", sa.String(200), nullable=True),
        sa.Column("low", TZ, nullable=True),
        sa.Column("high", TZ, nullable=True),
    )
    op.create_index("fhir_search_index_resource", "fhir_search_index", ["resource_type", "id"])
    op.create_index("fhir_search_index_value", "fhir_search_index", ["resource_type", "param", "value"])
    op.create_index("fhir_search_index_date", "fhir_search_index", ["resource_type", "param", "low"])
    # Index what is stored already, in chunks, with the same code that indexes new resources.
    from consumers.record_store.search.reindex import reindex_all

    reindex_all(op.get_bind())


def downgrade() -> None:
    op.drop_table("fhir_search_index")
