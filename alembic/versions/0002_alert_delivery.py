"""alert delivery: digests in the outbox, attempt durations, channels disabled by their receiver

alerts.item_id becomes nullable (a digest row has no item of its own), alerts
gain kind/digest_id/period_start, delivery_attempts gains duration_ms, and
channel_states records channels a receiver switched off (410 Gone).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:37:59.291516
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_states',
    sa.Column('channel', sa.String(length=100), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('channel', name=op.f('pk_channel_states'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='item', nullable=False))
        batch_op.add_column(sa.Column('digest_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('period_start', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('item_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index('ix_alerts_channel_state', ['channel', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_digest_id'), ['digest_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_alerts_digest_id_alerts'), 'alerts', ['digest_id'], ['id'])

    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duration_ms', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_column('duration_ms')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_alerts_digest_id_alerts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_alerts_digest_id'))
        batch_op.drop_index('ix_alerts_channel_state')
        batch_op.alter_column('item_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('period_start')
        batch_op.drop_column('digest_id')
        batch_op.drop_column('kind')

    op.drop_table('channel_states')
