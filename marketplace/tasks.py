"""Background work of the marketplace."""

from celery import shared_task

from marketplace.services import alerts, listing_stats, metering


@shared_task
def void_stale_reservations() -> int:
    """Give back credits held by calls that never settled (a crashed gateway or worker)."""
    return metering.void_stale_reservations()


@shared_task
def refresh_catalogue_usage() -> int:
    """The catalogue's calls in 7 and 30 days and measured tokens/s (its sorts trending, popular, fastest), and the
    facts of listings that have none yet."""
    listing_stats.refresh_missing()
    return listing_stats.refresh_usage()


@shared_task
def warn_low_balances() -> int:
    """Tell consumers whose wallet runs low while they use it (once a day each)."""
    return alerts.warn_low_balances()
