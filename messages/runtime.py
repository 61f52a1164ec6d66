"""What the messages package runs inside the gateway: config checks at start, the campaign scheduler in serve."""
from __future__ import annotations

from gateway.config import ConfigError
from messages.quiet import QuietHoursError

def init_app(app) -> None:
    """A bad [campaigns] quiet_hours or [gateway] timezone stops the program at start, not at 21:00."""
    from messages.campaigns import quiet_hours
    try:
        quiet_hours(app.extensions["dalil"].config)
    except QuietHoursError as e:
        raise ConfigError(str(e)) from None


def start_background(app) -> None:
    from messages.scheduler import CampaignScheduler
    ctx = app.extensions["dalil"]
    if ctx.services.campaign_scheduler is None:
        ctx.services.campaign_scheduler = CampaignScheduler(ctx).start()


def stop_background(app) -> None:
    services = app.extensions["dalil"].services
    scheduler, services.campaign_scheduler = services.campaign_scheduler, None
    if scheduler is not None:
        scheduler.stop()
