"""SQL of the messages package: subscribers, consent log, campaigns."""

MIGRATIONS: list[str] = []
