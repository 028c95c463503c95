"""referral loops

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('referral',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('patient_key', sa.String(length=100), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=True),
    sa.Column('requester_facility', sa.String(length=32), nullable=False),
    sa.Column('target_facility', sa.String(length=32), nullable=True),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=200), nullable=True),
    sa.Column('reason_code', sa.String(length=200), nullable=True),
    sa.Column('reason_text', sa.String(length=500), nullable=True),
    sa.Column('based_on', sa.String(length=64), nullable=True),
    sa.Column('arrival_encounter_id', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_based_on'), ['based_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_patient_key'), ['patient_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_requester_facility'), ['requester_facility'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_target_facility'), ['target_facility'], unique=False)

    op.create_table('referral_pending_step',
    sa.Column('referral_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=True),
    sa.Column('facility_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('referral_id', 'event_id')
    )
    op.create_table('referral_state_change',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('referral_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('referral_state_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_state_change_referral_id'), ['referral_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('referral_state_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_state_change_referral_id'))

    op.drop_table('referral_state_change')
    op.drop_table('referral_pending_step')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_target_facility'))
        batch_op.drop_index(batch_op.f('ix_referral_state'))
        batch_op.drop_index(batch_op.f('ix_referral_requested_at'))
        batch_op.drop_index(batch_op.f('ix_referral_requester_facility'))
        batch_op.drop_index(batch_op.f('ix_referral_patient_key'))
        batch_op.drop_index(batch_op.f('ix_referral_based_on'))

    op.drop_table('referral')
