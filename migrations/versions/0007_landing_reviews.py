"""landing: §17 reviews before a major project is signed, and the bureau's exceptions

Revision ID: 0004_landing_reviews
Revises: 0003_landing
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.base

revision: str = "0004_landing_reviews"
down_revision: str | None = "0003_landing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "projectreview",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("conclusion", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("document_file_id", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
        sa.Column("document_name", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("recorded_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("projectreview", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projectreview_project_id"), ["project_id"], unique=False)
    op.create_table(
        "signingexception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=False),
        sa.Column("granted_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["granted_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signingexception", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signingexception_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signingexception", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signingexception_project_id"))
    op.drop_table("signingexception")
    with op.batch_alter_table("projectreview", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projectreview_project_id"))
    op.drop_table("projectreview")
