"""landing: funds in place as dated entries

Revision ID: 0003_landing
Revises: 0003_capture
Create Date: 2026-12-03 10:30:00
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.base

revision: str = "0003_landing"
down_revision: str | None = "0003_capture"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The day of an existing total is a local day; the migration cannot read the settings, and
# every install so far runs on the default zone.
ZONE = ZoneInfo("Asia/Shanghai")


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def upgrade() -> None:
    op.create_table(
        "fundsentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("amount_yuan", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fundsentry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fundsentry_on_date"), ["on_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_fundsentry_project_id"), ["project_id"], unique=False)
    _migrate_totals()


def _migrate_totals() -> None:
    """Each existing running total becomes one entry, dated the day it was last changed."""
    bind = op.get_bind()
    projects = bind.execute(
        sa.text("SELECT id, funds_in_place_yuan, last_progress_at, first_talk_date FROM project")
    ).all()
    last_change = {
        int(entity_id): at
        for entity_id, at in bind.execute(
            sa.text(
                "SELECT entity_id, MAX(at) FROM auditentry"
                " WHERE entity = 'project' AND action = 'funds' GROUP BY entity_id"
            )
        ).all()
    }
    entries = sa.table(
        "fundsentry",
        sa.column("project_id", sa.Integer()),
        sa.column("on_date", sa.Date()),
        sa.column("amount_yuan", sa.BigInteger()),
        sa.column("recorded_at", models.base.UTCDateTime(timezone=True)),
        sa.column("origin", sa.String()),
    )
    rows = []
    for project_id, total, moved, first_talk in projects:
        if not total:
            continue
        when = _aware(last_change.get(int(project_id))) or _aware(moved)
        if when is not None:
            day = when.astimezone(ZONE).date()
        else:
            day = first_talk if isinstance(first_talk, date) else date.fromisoformat(str(first_talk))
        rows.append(
            {
                "project_id": project_id,
                "on_date": day,
                "amount_yuan": int(total),
                "recorded_at": when or datetime.now(UTC),
                "origin": "migrated",
            }
        )
    if rows:
        op.bulk_insert(entries, rows)


def downgrade() -> None:
    # The running total stays on the project, so the entries can go without losing it.
    with op.batch_alter_table("fundsentry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fundsentry_project_id"))
        batch_op.drop_index(batch_op.f("ix_fundsentry_on_date"))
    op.drop_table("fundsentry")
