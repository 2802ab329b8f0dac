"""access: administrators by the list, invitations that can be revoked

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_granted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('role_before_admin', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True))
    # Who the list made an administrator before this revision: registered on sight, as the
    # audit says; they are checked against the list at the next start like everyone else.
    op.execute(
        "UPDATE \"user\" SET admin_granted = TRUE WHERE id IN "
        "(SELECT entity_id FROM auditentry WHERE entity = 'user' AND action = 'admin_registered')"
    )


def downgrade() -> None:
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('role_before_admin')
        batch_op.drop_column('admin_granted')
