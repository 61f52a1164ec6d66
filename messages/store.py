"""SQL of the messages package: subscribers and their consent log (campaigns come with the blast work)."""

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
]
