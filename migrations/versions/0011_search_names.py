"""search: every name an enterprise answers to, with trigram indexes

Revision ID: 0006_search
Revises: 0007_landing_supervision
Create Date: 2026-12-03 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0006_search'
down_revision: str | None = '0007_landing_supervision'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The FTS5 table holds the name between marks (see services.name_index); contentless, since
# the names are in enterprisename already. A contentless table forgets a row only when told
# the values it indexed, which the triggers repeat from the old row.
_SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE enterprisename_fts USING fts5(normalized, pinyin, content='', tokenize='trigram')",
    # How many names hold each trigram: a near-name search asks the rare ones only.
    "CREATE VIRTUAL TABLE enterprisename_fts_vocab USING fts5vocab(enterprisename_fts, 'col')",
    """CREATE TRIGGER enterprisename_fts_insert AFTER INSERT ON enterprisename BEGIN
        INSERT INTO enterprisename_fts(rowid, normalized, pinyin)
        VALUES (new.id, '^' || new.normalized || '$', new.pinyin);
    END""",
    """CREATE TRIGGER enterprisename_fts_delete AFTER DELETE ON enterprisename BEGIN
        INSERT INTO enterprisename_fts(enterprisename_fts, rowid, normalized, pinyin)
        VALUES ('delete', old.id, '^' || old.normalized || '$', old.pinyin);
    END""",
    """CREATE TRIGGER enterprisename_fts_update AFTER UPDATE ON enterprisename BEGIN
        INSERT INTO enterprisename_fts(enterprisename_fts, rowid, normalized, pinyin)
        VALUES ('delete', old.id, '^' || old.normalized || '$', old.pinyin);
        INSERT INTO enterprisename_fts(rowid, normalized, pinyin)
        VALUES (new.id, '^' || new.normalized || '$', new.pinyin);
    END""",
)
_POSTGRES_INDEX = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX trgm_enterprisename_normalized ON enterprisename USING gin (normalized gin_trgm_ops)",
    "CREATE INDEX trgm_enterprisename_pinyin ON enterprisename USING gin (pinyin gin_trgm_ops)",
)


def upgrade() -> None:
    op.create_table('enterprisename',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('normalized', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('pinyin', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('initials', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('alias', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enterprisename', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprisename_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprisename_initials'), ['initials'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprisename_normalized'), ['normalized'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprisename_pinyin'), ['pinyin'], unique=False)

    bind = op.get_bind()
    for statement in _SQLITE_INDEX if bind.dialect.name == 'sqlite' else _POSTGRES_INDEX:
        op.execute(statement)

    # Enterprises registered before: their names and aliases go into the index now.
    from services.name_index import fill_rows

    enterprise = sa.table('enterprise', sa.column('id', sa.Integer), sa.column('name', sa.String),
                          sa.column('normalized_name', sa.String), sa.column('aliases', sa.JSON),
                          sa.column('pinyin', sa.String), sa.column('initials', sa.String),
                          sa.column('merged_into', sa.Integer))
    existing = bind.execute(sa.select(enterprise).where(enterprise.c.merged_into.is_(None))).mappings().all()
    rows = fill_rows([dict(row) for row in existing])
    if rows:
        names = sa.table('enterprisename', sa.column('enterprise_id', sa.Integer),
                         sa.column('normalized', sa.String), sa.column('pinyin', sa.String),
                         sa.column('initials', sa.String), sa.column('alias', sa.Boolean))
        bind.execute(names.insert(), rows)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TABLE enterprisename_fts_vocab")
        op.execute("DROP TABLE enterprisename_fts")
    with op.batch_alter_table('enterprisename', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprisename_pinyin'))
        batch_op.drop_index(batch_op.f('ix_enterprisename_normalized'))
        batch_op.drop_index(batch_op.f('ix_enterprisename_initials'))
        batch_op.drop_index(batch_op.f('ix_enterprisename_enterprise_id'))

    op.drop_table('enterprisename')
