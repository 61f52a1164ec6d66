"""What the messages package runs inside the gateway: config checks at start, the campaign scheduler in serve."""
from __future__ import annotations

from gateway.config import ConfigError
from messages.quiet import QuietHoursError

SERVICE = "campaign_scheduler"


def init_app(app) -> None:
    """A bad [campaigns] quiet_hours or [gateway] timezone stops the program at start, not at 21:00."""
    from messages.campaigns import quiet_hours
    try:
        quiet_hours(app.extensions["dalil"].config)
    except QuietHoursError as e:
        raise ConfigError(str(e)) from None


def start_background(app) -> None:
    from messages.schedule import CampaignScheduler
    ctx = app.extensions["dalil"]
    if SERVICE not in ctx.services:
        ctx.services[SERVICE] = CampaignScheduler(ctx).start()


def stop_background(app) -> None:
    scheduler = app.extensions["dalil"].services.pop(SERVICE, None)
    if scheduler is not None:
        scheduler.stop()
