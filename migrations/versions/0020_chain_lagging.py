"""chain lagging: an index that gives each chain's longest-idle projects without sorting the chain's projects

Revision ID: 0020_chain_lagging
Revises: 0019_search_pairs
Create Date: 2026-12-03 19:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0020_chain_lagging'
down_revision: str | None = '0019_search_pairs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_project_chain_progress', 'project', ['chain_id', 'last_progress_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_project_chain_progress', table_name='project')
