"""SQL of campaigns and their runs (tables in messages/store.py). Functions take a connection; the outbox's rows
are written by gateway.blasts, never here."""
from __future__ import annotations

import json

from gateway.store import dialect

_FIELDS = ("id", "name", "status", "texts", "fallback_language", "audience", "schedule", "send_at", "cron",
           "rate_per_minute", "expiry_hours", "next_run_at", "paused_from")


def campaign_row(db, campaign_id: int) -> dict | None:
    row = db.execute(f"SELECT {', '.join(_FIELDS)} FROM campaigns WHERE id = ?", [campaign_id]).fetchone()  # noqa: S608 (fixed names, bound values)
    return dict(zip(_FIELDS, row)) if row else None


def campaign_rows(db):
    """(id, name, status, schedule, next_run_at, created_at), newest first."""
    return db.execute("SELECT id, name, status, schedule, next_run_at, created_at FROM campaigns ORDER BY id DESC")


def insert_draft(db, *, name: str, texts: dict, fallback_language: str, audience_json: str, schedule: str,
                 send_at: float | None, cron: str | None, rate: int, expiry: float, now: float) -> int:
    return db.execute(
        "INSERT INTO campaigns (name, status, texts, fallback_language, audience, schedule, send_at, cron, "
        "rate_per_minute, expiry_hours, created_at, updated_at) VALUES (?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        [name, json.dumps(texts, ensure_ascii=False), fallback_language, audience_json, schedule, send_at, cron,
         rate, expiry, now, now]).fetchone()[0]


def set_status(db, campaign_id: int, status: str, next_run_at: float | None, now: float) -> None:
    db.execute("UPDATE campaigns SET status = ?, next_run_at = ?, updated_at = ? WHERE id = ?",
               [status, next_run_at, now, campaign_id])


def mark_paused(db, campaign_id: int, paused_from: str, now: float) -> None:
    db.execute("UPDATE campaigns SET status = 'paused', paused_from = ?, updated_at = ? WHERE id = ?",
               [paused_from, now, campaign_id])


def mark_resumed(db, campaign_id: int, status: str, next_run_at: float | None, now: float) -> None:
    db.execute("UPDATE campaigns SET status = ?, paused_from = NULL, next_run_at = ?, updated_at = ? WHERE id = ?",
               [status, next_run_at, now, campaign_id])


def mark_cancelled(db, campaign_id: int, now: float) -> None:
    db.execute("UPDATE campaigns SET status = 'cancelled', next_run_at = NULL, paused_from = NULL, updated_at = ? "
               "WHERE id = ?", [now, campaign_id])


def due_campaigns(db, now: float) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM campaigns WHERE status = 'scheduled' AND next_run_at <= ? "
                                     "ORDER BY next_run_at", [now])]


def scheduled_times(db) -> list[tuple[int, float]]:
    """(campaign, next run) of every scheduled campaign: what the scheduler keeps a job for."""
    return db.execute("SELECT id, next_run_at FROM campaigns WHERE status = 'scheduled' AND next_run_at IS NOT NULL"
                      ).fetchall()


def start_run(db, campaign_id: int, run_key: str, due: float, now: float, first: float,
              expires: float) -> int | None:
    """The run's id, or None when this run_key was queued already."""
    cur = db.execute(
        "INSERT INTO campaign_runs (campaign_id, run_key, due_at, started_at, first_send_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(campaign_id, run_key) DO NOTHING RETURNING id",
        [campaign_id, run_key, due, now, first, expires])
    row = cur.fetchone()
    return row[0] if row else None


def set_run_queued(db, run_id: int, queued: int) -> None:
    db.execute("UPDATE campaign_runs SET queued = ? WHERE id = ?", [queued, run_id])


def runs(db, campaign_id: int) -> list[dict]:
    return [dict(zip(("run", "due_at", "first_send_at", "queued"), r)) for r in db.execute(
        "SELECT id, due_at, first_send_at, queued FROM campaign_runs WHERE campaign_id = ? ORDER BY id",
        [campaign_id])]


def recipients_by_language(db, where: str, params: list) -> dict[str, int]:
    """Subscribers matching an audience's WHERE (messages.audience), by language."""
    return dict(db.execute(f"SELECT s.language, count(*) FROM subscribers s WHERE {where} GROUP BY s.language",  # noqa: S608 (fixed names, bound values)
                           params).fetchall())


def recipients_by_route(db, route: str, route_params: list, where: str, params: list) -> list[tuple]:
    """(route, language, subscribers) for an audience, ``route`` being routing's CASE over s.phone."""
    return db.execute(f"SELECT {route} AS route, s.language, count(*) FROM subscribers s WHERE {where} "  # noqa: S608 (fixed names, bound values)
                      f"GROUP BY route, s.language ORDER BY route, s.language", route_params + params).fetchall()


def subscriber_id_range(db) -> tuple[int, int]:
    """(lowest, highest) subscriber id: a run walks the table in batches of ids."""
    return db.execute("SELECT coalesce(min(id), 1), coalesce(max(id), 0) FROM subscribers").fetchone()


def pace_function(db, starts: list[float], offsets: list[float], interval: float) -> str:
    """PostgreSQL: messages.quiet.Pacer as a function of this connection's (pg_temp, gone at its end), its open
    windows written in; one lookup per row, as SQLite calls the Python pacer. Call inside the run's transaction."""
    def array(values):
        return "ARRAY[" + ",".join(repr(float(v)) for v in values) + "]::float8[]"
    # numbers Python made, written in: a function body takes no parameters
    step = repr(float(interval))
    body = (f"SELECT s + (n * {step} - o) FROM unnest({array(starts)}, {array(offsets)}) AS w(s, o) "  # noqa: S608
            f"WHERE o <= n * {step} ORDER BY o DESC LIMIT 1")
    db.execute("CREATE OR REPLACE FUNCTION pg_temp.dalil_pace(n DOUBLE PRECISION) RETURNS DOUBLE PRECISION "
               f"LANGUAGE sql IMMUTABLE AS $$ {body} $$")
    return "pg_temp.dalil_pace"


def blast_select(db, *, body: str, encoding: str, segments: str, not_before: str, where: str) -> str:
    """The SELECT of one batch of a run, in gateway.blasts.QUEUED_COLUMNS' order. Its parameters: the key prefix,
    the body's, the priority, the encoding's, the segments', the first send time (or the count so far, when
    paced), expiry, now, now, the campaign, the batch's lowest and highest id (exclusive, inclusive), the
    audience's.

    A batch is a range of ids, to be walked by the primary key. Without statistics both engines took the
    audience index (status = 'active') too, and read every active subscriber for every batch: a million took
    10.7 s to queue on SQLite instead of 3 (bench/blast.py). SQLite's NOT INDEXED keeps the rowid, which it may
    still use; PostgreSQL reads the range in a subquery that OFFSET 0 keeps from being merged into the rest."""
    if dialect(db) == "postgresql":
        source, batch = "(SELECT * FROM subscribers WHERE id > ? AND id <= ? OFFSET 0) AS s", where
    else:
        source, batch = "subscribers s NOT INDEXED", f"s.id > ? AND s.id <= ? AND {where}"
    return (f"SELECT ? || s.id, s.phone, {body}, 'blast', ?, {encoding}, {segments}, {not_before}, ?, ?, ?, 0, ?, "  # noqa: S608 (fixed names, bound values)
            f"s.id FROM {source} WHERE {batch} ORDER BY s.id")


def blast_standing(db, msg_id: int) -> tuple[str, str | None, str | None] | None:
    """(kind, subscriber status, campaign status) of an outbox row, for the last look before it goes."""
    return db.execute(
        "SELECT o.kind, s.status, c.status FROM outbox o LEFT JOIN subscribers s ON s.id = o.subscriber_id "
        "LEFT JOIN campaigns c ON c.id = o.campaign_id WHERE o.id = ?", [msg_id]).fetchone()
