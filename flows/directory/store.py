"""SQL of the directory: the reads menus make on every hop, the rows an import writes, what an export reads.

The tables and the reference data (taxonomy, areas) are created by flows/store.py's migration. Table and column
names in the f-strings below are fixed names from this package; values are always bound.
"""
from __future__ import annotations

from gateway.store import transaction

OWNED = ("phones", "schedules")  # rows that belong to an organisation, a service or a location


# -- reference data ---------------------------------------------------------------------------------------------

def governorate_rows(db) -> list:
    return list(db.query("SELECT code, name_ar, name_fr, name_en FROM areas WHERE level = 'governorate' "
                         "ORDER BY position"))


def delegation_rows(db, governorate_code: str) -> list:
    return list(db.query("SELECT code, name_ar, name_fr, name_en FROM areas "
                         "WHERE level = 'delegation' AND parent_code = ? ORDER BY position", [governorate_code]))


def area_row(db, code: str):
    return next(db.query("SELECT name_ar, name_fr, name_en FROM areas WHERE code = ?", [code]), None)


def area_rows(db) -> list[tuple]:
    """Every area: (code, level, parent code, name_ar, name_fr, name_en)."""
    return db.execute("SELECT code, level, parent_code, name_ar, name_fr, name_en FROM areas").fetchall()


def area_levels(db) -> dict[str, tuple[str, str | None]]:
    """Area code -> (level, parent code)."""
    return {r[0]: (r[1], r[2]) for r in db.execute("SELECT code, level, parent_code FROM areas")}


def taxonomy_rows(db) -> list:
    return list(db.query("SELECT code, kind, name_ar, name_fr, name_en FROM taxonomy_terms ORDER BY position"))


def term_codes(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT code FROM taxonomy_terms")}


def term_name_fr(db, code: str) -> str:
    return db.execute("SELECT name_fr FROM taxonomy_terms WHERE code = ?", [code]).fetchone()[0]


# -- what menus read ------------------------------------------------------------------------------------------

def count_services(db) -> int:
    return db.execute("SELECT count(*) FROM services").fetchone()[0]


def listed_service_rows(db, categories: list[str], governorate: str | None) -> list[tuple]:
    """(id, name ar/fr/en, short name ar/fr/en) of the active services in any of ``categories``, offered in
    ``governorate`` or nationally (flagged so, or with no location); local ones first, then by name."""
    names = {f"c{i}": code for i, code in enumerate(categories)}
    sql = f"""
        SELECT id, name_ar, name_fr, name_en, short_name_ar, short_name_fr, short_name_en, local FROM (
            SELECT s.id, s.name_ar, s.name_fr, s.name_en, s.short_name_ar, s.short_name_fr, s.short_name_en,
                   s.national, s.sort_name,
                   EXISTS (SELECT 1 FROM service_at_location sal JOIN locations l ON l.id = sal.location_id
                           WHERE sal.service_id = s.id
                             AND (CAST(:gov AS TEXT) IS NULL OR l.governorate = :gov)) AS local
            FROM services s
            WHERE s.status = 'active'
              AND EXISTS (SELECT 1 FROM service_taxonomy st
                          WHERE st.service_id = s.id AND st.term_code IN ({', '.join(':' + n for n in names)}))
        ) AS listed
        WHERE local OR national = 1
           OR NOT EXISTS (SELECT 1 FROM service_at_location sal WHERE sal.service_id = listed.id)
        ORDER BY local DESC, sort_name, id
    """  # noqa: S608 (placeholders :c0, :c1 ... only; values bound)
    return db.execute(sql, {"gov": governorate, **names}).fetchall()


def active_service_row(db, service_id: str):
    return next(db.query("SELECT * FROM services WHERE id = ? AND status = 'active'", [service_id]), None)


def organization_row(db, organization_id: str):
    return next(db.query("SELECT * FROM organizations WHERE id = ?", [organization_id]))


def main_location_row(db, service_id: str, governorate: str | None):
    """The service's location in ``governorate`` if it has one there, else its first."""
    return next(db.query(
        "SELECT l.* FROM service_at_location sal JOIN locations l ON l.id = sal.location_id "
        "WHERE sal.service_id = ? ORDER BY l.governorate = ? DESC, l.name_fr, l.id LIMIT 1",
        [service_id, governorate]), None)


def first_schedule_row(db, column: str, owner: str):
    return next(db.query(f"SELECT * FROM schedules WHERE {column} = ? ORDER BY position, id LIMIT 1",  # noqa: S608 (fixed names, bound values)
                         [owner]), None)


def first_phone_number(db, column: str, owner: str) -> str | None:
    row = db.execute(f"SELECT number FROM phones WHERE {column} = ? ORDER BY position, id LIMIT 1",  # noqa: S608 (fixed names, bound values)
                     [owner]).fetchone()
    return row[0] if row else None


def category_codes(db, service_id: str) -> list[str]:
    rows = db.execute("SELECT t.code FROM service_taxonomy st JOIN taxonomy_terms t ON t.code = st.term_code "
                      "WHERE st.service_id = ? ORDER BY t.position", [service_id])
    return [r[0] for r in rows]


# -- what an import writes ------------------------------------------------------------------------------------

def exists(db, table: str, rid: str) -> bool:
    return db.execute(f"SELECT 1 FROM {table} WHERE id = ?", [rid]).fetchone() is not None  # noqa: S608 (fixed names, bound values)


def _upsert(db, table: str, row: dict) -> None:
    cols = list(row)
    db.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) "  # noqa: S608 (fixed names, bound values)
               f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols if c != 'id')}",
               row)


def write(db, records: dict[str, dict], categories: dict[str, list[str]], linked: set[str], links: dict,
          owned: dict[str, dict[tuple, list]]) -> None:
    """One document's rows in one transaction (sqlite3.IntegrityError if they conflict with what is stored).

    ``records``: table -> rows by id, upserted; ``categories``: service -> its codes, replaced; ``linked``: the
    services whose locations are replaced by ``links``; ``owned``: phones/schedules by (owner column, owner)."""
    with transaction(db):
        for table in ("organizations", "locations", "services"):
            for row in records[table].values():
                _upsert(db, table, row)
        for sid, codes in categories.items():
            db.execute("DELETE FROM service_taxonomy WHERE service_id = ?", [sid])
            db.conn.executemany("INSERT INTO service_taxonomy (term_code, service_id) VALUES (?, ?)",
                                [(code, sid) for code in codes])
        for sid in linked:
            db.execute("DELETE FROM service_at_location WHERE service_id = ?", [sid])
        for row in links.values():
            _upsert(db, "service_at_location", row)
        for table in OWNED:
            for (column, owner), rows in owned[table].items():
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", [owner])  # noqa: S608 (fixed names, bound values)
                for row in rows:
                    _upsert(db, table, row)


def location_links(db, service_id: str) -> dict[str, str]:
    """Location id -> the id of the service's link to it, in the order the links were made."""
    return {r[0]: r[1] for r in db.execute("SELECT location_id, id FROM service_at_location WHERE service_id = ? "
                                           "ORDER BY id", [service_id])}


def count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names, bound values)


def retire_service(db, service_id: str) -> bool:
    with transaction(db):
        return db.execute("UPDATE services SET status = 'retired' WHERE id = ?", [service_id]).rowcount > 0


# -- what an export reads -------------------------------------------------------------------------------------

def all_rows(db, table: str) -> list:
    return list(db.query(f"SELECT * FROM {table} ORDER BY id"))  # noqa: S608 (fixed names, bound values)


def owned_rows(db, table: str, column: str, owner: str) -> list:
    return list(db.query(f"SELECT * FROM {table} WHERE {column} = ? ORDER BY position, id", [owner]))  # noqa: S608 (fixed names, bound values)


def link_rows(db) -> list[dict]:
    return [dict(r) for r in db.query("SELECT id, service_id, location_id FROM service_at_location ORDER BY id")]
