"""landing: a unit's head contact for escalations

Revision ID: 0013_landing
Revises: 0012_dingtalk
Create Date: 2026-12-03 13:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '0013_landing'
down_revision: str | None = '0012_dingtalk'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('unitheadcontact',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('set_by', sa.Integer(), nullable=True),
    sa.Column('set_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['set_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('unit_id')
    )
    with op.batch_alter_table('unitheadcontact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unitheadcontact_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('unitheadcontact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unitheadcontact_user_id'))
    op.drop_table('unitheadcontact')
