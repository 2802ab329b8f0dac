"""miniapp: one-time links and short sessions of the dashboard; indexes for its period counts

Revision ID: 0016_miniapp
Revises: 0015_pace
Create Date: 2026-12-03 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.base

revision: str = '0016_miniapp'
down_revision: str | None = '0015_pace'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'webticket',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_webticket_token_hash'), 'webticket', ['token_hash'], unique=True)
    op.create_index(op.f('ix_webticket_user_id'), 'webticket', ['user_id'], unique=False)
    op.create_index(op.f('ix_webticket_expires_at'), 'webticket', ['expires_at'], unique=False)
    # The dashboard's (and the digests') period counts at ten times Zhangye.
    op.create_index('ix_visit_enterprise_date', 'visit', ['enterprise_id', 'visit_date'], unique=False)
    op.create_index('ix_project_last_progress', 'project', ['last_progress_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_project_last_progress', table_name='project')
    op.drop_index('ix_visit_enterprise_date', table_name='visit')
    op.drop_index(op.f('ix_webticket_expires_at'), table_name='webticket')
    op.drop_index(op.f('ix_webticket_user_id'), table_name='webticket')
    op.drop_index(op.f('ix_webticket_token_hash'), table_name='webticket')
    op.drop_table('webticket')
