"""dingtalk: platform accounts (a staff id's stable chat id) and departments bound to units

Revision ID: 0012_dingtalk
Revises: 0006_search
Create Date: 2026-12-03 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes

import models.base
from alembic import op

revision: str = '0012_dingtalk'
down_revision: str | None = '0006_search'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'platform_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform', 'external_id'),
    )
    op.create_index(op.f('ix_platform_accounts_chat_id'), 'platform_accounts', ['chat_id'], unique=True)
    op.create_table(
        'platform_departments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('bound_by', sa.BigInteger(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform', 'external_id'),
    )
    op.create_index(op.f('ix_platform_departments_unit_id'), 'platform_departments', ['unit_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_platform_departments_unit_id'), table_name='platform_departments')
    op.drop_table('platform_departments')
    op.drop_index(op.f('ix_platform_accounts_chat_id'), table_name='platform_accounts')
    op.drop_table('platform_accounts')
