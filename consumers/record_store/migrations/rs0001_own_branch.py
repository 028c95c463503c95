"""record_store: the part's own branch of migrations starts here.

Its tables up to now (fhir_resource and its indexes, the patient index, reviews) were created by
the core's history (0001-0004i), written before each part kept its own migrations; that history
stays as it is so databases made by earlier versions upgrade unchanged. New migrations of this part
go here: `hub db revision record_store -m "..."`.

Revision ID: rs0001
Depends on: 0004p
"""

from collections.abc import Sequence

revision: str = "rs0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("record_store",)
depends_on: str | Sequence[str] | None = "0004p"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
