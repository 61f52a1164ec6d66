"""Copying a SQLite gateway into PostgreSQL (`dalil migrate-to`): the store side.

The target gets the schema by the usual migrations, then every table's rows in the order the tables were created
(a table's references are to tables made before it), with COPY, in one transaction: a failure leaves the target
as it was. Identity columns then continue after the highest id copied.
"""
from __future__ import annotations

from typing import Callable

from gateway import pgstore


class CopyError(Exception):
    pass


def tables(source) -> list[str]:
    """The source's tables, in the order they were created; the migrations' own bookkeeping table excluded."""
    return [name for (name,) in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != 'schema_versions' ORDER BY rowid")]


def _columns(source, table: str) -> list[str]:
    return [row[1] for row in source.execute(f'PRAGMA table_info("{table}")')]


SEEDED = {"areas", "taxonomy_terms", "job_trades"}  # reference data the migrations themselves write


def check_empty(target: pgstore.Database, names: list[str]) -> None:
    """A target that already holds a gateway's data is refused: copying over it would mix two gateways. (A
    target with only the schema, from a copy that failed, is taken.)"""
    present = {t for (t,) in target.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    for table in sorted(set(names) & present - SEEDED):
        if target.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]:  # noqa: S608 (schema names)
            raise CopyError(f"the target database already holds a Dalil gateway's data (table {table} has rows)")


def copy_all(source, target: pgstore.Database, progress: Callable[[str, int], None] = lambda t, n: None
             ) -> dict[str, int]:
    """Every table's rows from ``source`` (a SQLite gateway at the same schema version) into ``target``."""
    names = tables(source)
    copied = {}
    with target.transaction():
        # the migrations seeded reference data (areas, taxonomy): the source's rows replace it
        target.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in names) + " RESTART IDENTITY CASCADE")
        with target.connection() as conn:
            for table in names:
                copied[table] = _copy_table(source, conn, table)
                progress(table, copied[table])
            _continue_identities(conn, names)
    return copied


def _copy_table(source, conn, table: str) -> int:
    columns = _columns(source, table)
    names = ", ".join(f'"{c}"' for c in columns)
    n = 0
    with conn.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in source.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid'  # noqa: S608 (names from the schema)
                                  if _has_rowid(source, table) else f'SELECT {names} FROM "{table}"'):  # noqa: S608
            copy.write_row(row)
            n += 1
    return n


def _has_rowid(source, table: str) -> bool:
    sql = source.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
    return "WITHOUT ROWID" not in sql.upper()


def _continue_identities(conn, names: list[str]) -> None:
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND is_identity = 'YES' AND identity_generation = 'BY DEFAULT'").fetchall():
        if table in names:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "  # noqa: S608 (schema names)
                         f'coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)')


def counts(db, names: list[str]) -> dict[str, int]:
    return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in names}  # noqa: S608 (schema names)


def same_versions(source, target) -> bool:
    def versions(db):
        return sorted(tuple(r) for r in db.execute("SELECT package, version FROM schema_versions"))
    return versions(source) == versions(target)

