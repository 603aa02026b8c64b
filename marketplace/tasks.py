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


@shared_task(acks_late=True)
def build_demo_model(*, steps: int, vocab_size: int) -> str:
    """Train and publish the demo model on the train worker (`make run` queues it); progress goes to the cache."""
    from marketplace.services import demo_model

    try:
        built = demo_model.build(steps=steps, vocab_size=vocab_size)
    except Exception as exc:
        demo_model.record(state="failed", step=0, steps=steps, error=str(exc)[:500])
        raise
    return built.commit.sha
