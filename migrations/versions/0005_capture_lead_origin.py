"""capture: a lead's currency, approximate amount, original text and origin

Revision ID: 0003_capture
Revises: 0004_networks
Create Date: 2026-12-03 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0003_capture'
down_revision: str | None = '0004_networks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False, server_default='CNY')
        )
        batch_op.add_column(sa.Column('amount_original', sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column('amount_approximate', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column('original_text', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(
            sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_column('origin')
        batch_op.drop_column('original_text')
        batch_op.drop_column('amount_approximate')
        batch_op.drop_column('amount_original')
        batch_op.drop_column('currency')
