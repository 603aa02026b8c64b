"""Background work of the marketplace."""

from celery import shared_task

from marketplace.services import metering


@shared_task
def void_stale_reservations() -> int:
    """Give back credits held by calls that never settled (a crashed gateway or worker)."""
    return metering.void_stale_reservations()
