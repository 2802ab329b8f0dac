"""pace: the delivery queue keyed by platform, a shared pace per platform

Revision ID: 0015_pace
Revises: 0014_digests
Create Date: 2026-12-03 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0015_pace'
down_revision: str | None = '0014_digests'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deliverypace',
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('next_at', sa.Float(), nullable=False),
    sa.Column('paused_until', sa.Float(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('recent', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('platform')
    )
    # Rows queued before this revision were all for Telegram: the server default says so.
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      server_default='telegram', nullable=False))
        batch_op.add_column(sa.Column('left_at', sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f('ix_delivery_platform'), ['platform'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_platform'))
        batch_op.drop_column('left_at')
        batch_op.drop_column('platform')
    op.drop_table('deliverypace')
