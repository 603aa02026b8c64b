"""Celery signals of the worker processes: an infer worker announces itself from its start (so the gateway knows
a call has somewhere to go before the first one) and withdraws at shutdown."""

import logging
import sys

from celery.signals import worker_ready, worker_shutdown

logger = logging.getLogger(__name__)
INFER_QUEUE = "infer"


def consumed_queues(consumer) -> set[str]:
    """The queues a worker's consumer reads."""
    task_consumer = getattr(consumer, "task_consumer", None)
    return {queue.name for queue in getattr(task_consumer, "queues", None) or ()}


@worker_ready.connect
def announce_infer_worker(sender=None, **_kwargs) -> None:
    if INFER_QUEUE in consumed_queues(sender):
        from workers.heartbeat import heartbeat

        logger.info("infer worker %s is up", heartbeat())


@worker_shutdown.connect
def withdraw_infer_worker(**_kwargs) -> None:
    beating = sys.modules.get("workers.heartbeat")  # loaded only in an infer worker
    if beating is not None:
        beating.stop_heartbeat()
