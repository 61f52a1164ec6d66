"""SQL of the messages package: subscribers, their consent log, campaigns and their runs."""

MIGRATIONS: list[str] = [
    # Subscribers opted in to receive blasts, so their number is kept: a blast must reach it. The consent log
    # records when, how and on which channel each change happened.
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        phone TEXT NOT NULL UNIQUE,
        language TEXT NOT NULL,
        governorate TEXT,
        delegation TEXT,
        interests TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX subscribers_audience ON subscribers(status, governorate, language);
    CREATE TABLE consent_log (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
        at REAL NOT NULL,
        action TEXT NOT NULL,
        channel TEXT NOT NULL,
        via TEXT NOT NULL
    );
    CREATE INDEX consent_log_subscriber ON consent_log(subscriber_id, at);
    """,
    # Campaigns. The schedule is data here, not pickled APScheduler jobs: `dalil serve` re-registers a job per
    # scheduled campaign from this table at start, so a recurring campaign survives a restart (see
    # messages/schedule.py). A run is one queueing of a campaign; its run_key (the time it was due) makes a
    # run idempotent. opted_in_at serves the "active since" audience filter. opt_out_keys holds the contact key
    # (gateway.contacts HMAC, never the number) of people who sent STOP without being subscribed, so that no
    # import can add them later. The two outbox indexes serve campaign results and the opt-out sweep.
    """
    ALTER TABLE subscribers ADD COLUMN opted_in_at REAL;
    UPDATE subscribers SET opted_in_at = created_at WHERE status = 'active';
    CREATE INDEX subscribers_opted_in ON subscribers(opted_in_at);
    CREATE TABLE opt_out_keys (
        contact_key TEXT PRIMARY KEY
    );
    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'draft',
        texts TEXT NOT NULL,
        fallback_language TEXT NOT NULL,
        audience TEXT NOT NULL,
        schedule TEXT NOT NULL,
        send_at REAL,
        cron TEXT,
        rate_per_minute INTEGER NOT NULL DEFAULT 0,
        expiry_hours REAL NOT NULL,
        next_run_at REAL,
        paused_from TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX campaigns_due ON campaigns(status, next_run_at);
    CREATE TABLE campaign_runs (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
        run_key TEXT NOT NULL,
        due_at REAL NOT NULL,
        started_at REAL NOT NULL,
        first_send_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        queued INTEGER NOT NULL DEFAULT 0,
        UNIQUE (campaign_id, run_key)
    );
    CREATE INDEX outbox_campaign ON outbox(campaign_id, state) WHERE campaign_id IS NOT NULL;
    CREATE INDEX outbox_subscriber ON outbox(subscriber_id, state) WHERE subscriber_id IS NOT NULL;
    """,
]
