"""Domain events through the outbox (core/models.py).

    record(kind, **payload)   in the transaction of the change: the row commits or rolls back with it, and a
                              worker is nudged once it committed
    @consumer(kind)           a function that handles each event of that kind (registered in an AppConfig.ready);
                              raising retries the event later, with exponential backoff
    deliver_due()             run by the `default` worker (core.tasks.deliver_outbox, nudged and on beat): each due
                              event locked with SKIP LOCKED, so several workers never deliver one twice at once

Events of a kind nobody consumes yet are marked delivered: webhooks will consume them (issue #24)."""

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from core.models import OutboxEvent

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8  # 1 s, 2 s, 4 s ... about 4 minutes of retries in all, then failed_at
BATCH = 100
DELIVER_TASK = "core.tasks.deliver_outbox"

_consumers: dict[str, list[Callable[[OutboxEvent], None]]] = defaultdict(list)


def consumer(kind: str):
    """Register the decorated function as a consumer of `kind` events."""

    def register(function: Callable[[OutboxEvent], None]):
        if function not in _consumers[kind]:
            _consumers[kind].append(function)
        return function

    return register


def record(kind: str, **payload) -> OutboxEvent:
    """Write the event in the current transaction (call it inside the change's `transaction.atomic()`)."""
    event = OutboxEvent.objects.create(kind=kind, payload=payload)
    pending = transaction.get_connection().run_on_commit  # (savepoint ids, function, robust) of this transaction
    if not any(entry[1] is _nudge for entry in pending):  # one nudge a transaction, however many events it records
        transaction.on_commit(_nudge)
    return event


def _nudge() -> None:
    from celery import current_app

    try:
        current_app.send_task(DELIVER_TASK, queue="default", retry=False)
    except Exception:  # the broker is away: beat's next run delivers it
        logger.warning("could not nudge the outbox; beat will deliver its events", exc_info=True)


def deliver_due(*, now: dt.datetime | None = None) -> int:
    """Deliver the events that are due, oldest first; returns how many were delivered now."""
    delivered, now = 0, now or timezone.now()
    while True:
        with transaction.atomic():
            due = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(delivered_at__isnull=True, failed_at__isnull=True, next_attempt_at__lte=now)
                .order_by("id")[:BATCH]
            )
            for event in due:
                delivered += _deliver(event, now)
        if len(due) < BATCH:
            return delivered


def _deliver(event: OutboxEvent, now: dt.datetime) -> int:
    try:
        with transaction.atomic():  # a savepoint: a consumer whose query fails undoes its own work, not the batch's
            for handle in _consumers.get(event.kind, ()):
                handle(event)
    except Exception as exc:
        event.attempts += 1
        event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if event.attempts >= MAX_ATTEMPTS:
            event.failed_at = now
            logger.error("outbox event %s failed %d times; giving up: %s", event, event.attempts, event.last_error)
        else:
            event.next_attempt_at = now + dt.timedelta(seconds=2 ** (event.attempts - 1))
        event.save(update_fields=["attempts", "last_error", "failed_at", "next_attempt_at"])
        return 0
    event.attempts += 1
    event.delivered_at = now
    event.save(update_fields=["attempts", "delivered_at"])
    return 1
