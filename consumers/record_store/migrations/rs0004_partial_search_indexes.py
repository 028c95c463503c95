"""record_store: the value and date indexes of fhir_search_index cover only the rows that have one.

A string or token row has no date and a date row has no string, so each full index carried every row of
the other kind as a NULL entry, written on every resource write and never read. A search's comparison
(`value >= ?`, `low < ?`) implies IS NOT NULL, so SQLite and PostgreSQL still choose the partial index.

Revision ID: rs0004
Revises: rs0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rs0004"
down_revision: str | Sequence[str] | None = "rs0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTIAL = {"fhir_search_index_value": ("value", "value IS NOT NULL"),
           "fhir_search_index_date": ("low", "low IS NOT NULL")}


def upgrade() -> None:
    for name, (column, where) in PARTIAL.items():
        op.drop_index(name, table_name="fhir_search_index")
        op.create_index(name, "fhir_search_index", ["resource_type", "param", column],
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, (column, _) in PARTIAL.items():
        op.drop_index(name, table_name="fhir_search_index")
        op.create_index(name, "fhir_search_index", ["resource_type", "param", column])
