"""referrals: the part's own branch of migrations starts here.

Its tables up to now (referral, referral_pending_step, referral_state_change) were created by
the core's history (0003), written before each part kept its own migrations; that history
stays as it is so databases made by earlier versions upgrade unchanged. New migrations of this part
go here: `hub db revision referrals -m "..."`.

Revision ID: ref0001
Depends on: 0004p
"""

from collections.abc import Sequence

revision: str = "ref0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("referrals",)
depends_on: str | Sequence[str] | None = "0004p"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
