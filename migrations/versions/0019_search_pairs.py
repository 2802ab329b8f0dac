"""search pairs: the names holding each two characters, shortest first

Revision ID: 0019_search_pairs
Revises: 0018_chain_counts
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0019_search_pairs'
down_revision: str | None = '0018_chain_counts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Two characters make no trigram, and two common ones (宁德, 科技) are in thousands of names,
# which a trigram index hands over unordered (SQLite) or cannot narrow at all (pg_trgm reads
# every name for a LIKE of two characters). Keyed in the order a search ranks names (see
# services.name_index.by_stem), the few it shows are the first entries of the pair.
# Triggers keep it, as they keep enterprisename_fts, so every writer of names does too.
_TABLE = """CREATE TABLE enterprisename_pair (
    pair VARCHAR(2) NOT NULL,
    length INTEGER NOT NULL,
    alias BOOLEAN NOT NULL,
    enterprise_id INTEGER NOT NULL,
    name_id INTEGER NOT NULL,
    PRIMARY KEY (pair, length, alias, enterprise_id, name_id)
)"""
# A SQLite trigger cannot loop, so the positions of a name's pairs are read from a table of them.
_LONGEST = 256  # enterprisename.normalized
# A name's pairs put in (new) and taken out (old): the triggers' two halves.
_SQLITE_ADD = """        INSERT OR IGNORE INTO enterprisename_pair
        SELECT substr(new.normalized, at, 2), length(new.normalized), new.alias, new.enterprise_id, new.id
        FROM enterprisename_pair_at WHERE at < length(new.normalized);
"""
# Every column of the key named, so each pair is one lookup, not a walk of all its names.
_SQLITE_REMOVE = """        DELETE FROM enterprisename_pair
        WHERE pair IN (SELECT substr(old.normalized, at, 2) FROM enterprisename_pair_at
                       WHERE at < length(old.normalized))
          AND length = length(old.normalized) AND alias = old.alias
          AND enterprise_id = old.enterprise_id AND name_id = old.id;
"""
_SQLITE_UP = (
    _TABLE + " WITHOUT ROWID",
    "CREATE TABLE enterprisename_pair_at (at INTEGER PRIMARY KEY)",
    "INSERT INTO enterprisename_pair_at (at) VALUES " + ", ".join(f"({n})" for n in range(1, _LONGEST)),
    """INSERT OR IGNORE INTO enterprisename_pair
        SELECT substr(n.normalized, at, 2), length(n.normalized), n.alias, n.enterprise_id, n.id
        FROM enterprisename AS n JOIN enterprisename_pair_at ON at < length(n.normalized)""",
    f"""CREATE TRIGGER enterprisename_pair_insert AFTER INSERT ON enterprisename BEGIN
{_SQLITE_ADD}    END""",
    f"""CREATE TRIGGER enterprisename_pair_delete AFTER DELETE ON enterprisename BEGIN
{_SQLITE_REMOVE}    END""",
    f"""CREATE TRIGGER enterprisename_pair_update AFTER UPDATE ON enterprisename BEGIN
{_SQLITE_REMOVE}{_SQLITE_ADD}    END""",
)
_SQLITE_DOWN = (
    "DROP TRIGGER enterprisename_pair_update",
    "DROP TRIGGER enterprisename_pair_delete",
    "DROP TRIGGER enterprisename_pair_insert",
    "DROP TABLE enterprisename_pair_at",
    "DROP TABLE enterprisename_pair",
)

_POSTGRES_UP = (
    _TABLE,
    """INSERT INTO enterprisename_pair
        SELECT DISTINCT substr(n.normalized, at, 2), length(n.normalized), n.alias, n.enterprise_id, n.id
        FROM enterprisename AS n CROSS JOIN LATERAL generate_series(1, length(n.normalized) - 1) AS at""",
    """CREATE FUNCTION enterprisename_pair_keep() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            DELETE FROM enterprisename_pair
            WHERE pair IN (SELECT substr(OLD.normalized, at, 2)
                           FROM generate_series(1, length(OLD.normalized) - 1) AS at)
              AND length = length(OLD.normalized) AND alias = OLD.alias
              AND enterprise_id = OLD.enterprise_id AND name_id = OLD.id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO enterprisename_pair
            SELECT DISTINCT substr(NEW.normalized, at, 2), length(NEW.normalized), NEW.alias,
                   NEW.enterprise_id, NEW.id
            FROM generate_series(1, length(NEW.normalized) - 1) AS at;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER enterprisename_pair_keep AFTER INSERT OR UPDATE OR DELETE ON enterprisename
        FOR EACH ROW EXECUTE FUNCTION enterprisename_pair_keep()""",
)
_POSTGRES_DOWN = (
    "DROP TRIGGER enterprisename_pair_keep ON enterprisename",
    "DROP FUNCTION enterprisename_pair_keep()",
    "DROP TABLE enterprisename_pair",
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for statement in _SQLITE_UP if sqlite else _POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for statement in _SQLITE_DOWN if sqlite else _POSTGRES_DOWN:
        op.execute(statement)
