"""chain counts: indexes that let a period's visits per chain and the chains' projects be read from the index alone

Revision ID: 0018_chain_counts
Revises: 0017_dingtalk2
Create Date: 2026-12-03 16:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018_chain_counts'
down_revision: str | None = '0017_dingtalk2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Each new index begins with the columns of the one it replaces.
    op.create_index('ix_visit_date_enterprise', 'visit', ['visit_date', 'enterprise_id'], unique=False)
    op.drop_index('ix_visit_visit_date', table_name='visit')
    op.create_index('ix_project_chain_stage', 'project', ['chain_id', 'stage', 'first_talk_date'], unique=False)
    op.drop_index('ix_project_chain_id', table_name='project')


def downgrade() -> None:
    op.create_index('ix_project_chain_id', 'project', ['chain_id'], unique=False)
    op.drop_index('ix_project_chain_stage', table_name='project')
    op.create_index('ix_visit_visit_date', 'visit', ['visit_date'], unique=False)
    op.drop_index('ix_visit_date_enterprise', table_name='visit')
