"""reading: the part's own branch of migrations starts here.

Revision ID: rd0001
Depends on: 0004p
"""

from collections.abc import Sequence

revision: str = "rd0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("reading",)
depends_on: str | Sequence[str] | None = "0004p"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
