"""digests: lead indexes for counting one window at a time

Revision ID: 0014_digests
Revises: 0013_landing
Create Date: 2026-12-03 13:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014_digests'
down_revision: str | None = '0013_landing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.create_index('ix_lead_created_at_chain_id', ['created_at', 'chain_id'], unique=False)
        batch_op.create_index(
            'ix_lead_status_created_at_unit_id', ['status', 'created_at', 'unit_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_status_created_at_unit_id')
        batch_op.drop_index('ix_lead_created_at_chain_id')
