"""dingtalk2: the cards sent on DingTalk, so a press after a restart still edits its card

Revision ID: 0017_dingtalk2
Revises: 0016_miniapp
Create Date: 2026-12-03 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0017_dingtalk2'
down_revision: str | None = '0016_miniapp'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'platform_cards',
        sa.Column('message_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('labels', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('message_id'),
    )


def downgrade() -> None:
    op.drop_table('platform_cards')
