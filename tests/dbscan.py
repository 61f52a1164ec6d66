"""What tests read of the database itself, whichever the engine (SQLite or PostgreSQL): its tables, a table's
columns, its schema, and every cell as text. File-level scans (pages, WAL, free blocks) stay SQLite's: such tests
are marked ``sqlite_only``."""
from __future__ import annotations


def is_postgresql(db) -> bool:
    return getattr(db, "dialect", "") == "postgresql"


def tables(db) -> list[str]:
    if is_postgresql(db):
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    return [r[0] for r in db.execute(sql)]


def columns(db, table: str) -> list[str]:
    if is_postgresql(db):
        return [r[0] for r in db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                         "ORDER BY ordinal_position", [table])]
    return [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]


def schema(db) -> list[tuple]:
    """Every table's and index's definition, to compare before and after."""
    if is_postgresql(db):
        return db.execute("SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
                          "WHERE c.table_schema = 'public' UNION ALL SELECT tablename, indexname, indexdef "
                          "FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2").fetchall()
    return db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def dump(db) -> str:
    """Every cell of every table as text, one row a line (bytes decoded where they are text)."""
    lines = []
    for table in tables(db):
        for row in db.execute(f'SELECT * FROM "{table}"').fetchall():  # noqa: S608 (names from the schema)
            cells = [v.decode("utf-8", "replace") if isinstance(v, (bytes, memoryview)) else str(v) for v in row]
            lines.append(table + ": " + " | ".join(cells))
    return "\n".join(lines)
