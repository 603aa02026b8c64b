"""Which Celery queue wakes the workers of a resource class (settings.JOB_QUEUES), and the nudge itself. The message
says only "look for work of this class": the jobs are rows, so a lost nudge loses nothing (beat's
`look-for-job-work` nudges again while claimable jobs wait)."""

import logging

from celery import current_app
from django.conf import settings

from jobs.models import ResourceClass

logger = logging.getLogger(__name__)


def resources_of(queue_resource: str) -> tuple[str, ...]:
    """The resource classes a worker woken on `queue_resource`'s queue claims: its own and `any`."""
    return (queue_resource, ResourceClass.ANY)


def wakes(resource_class: str) -> list[str]:
    """The worker classes that may run a job of `resource_class`: `any` wakes every class."""
    return list(settings.JOB_QUEUES) if resource_class == ResourceClass.ANY else [resource_class]


def ask_for_work(resource_class: str, *, unless_waiting: bool = False) -> None:
    """Wake a worker for a job of `resource_class`. If the broker is down the job still stands: beat and any worker
    that comes back find it. `unless_waiting` (beat's) skips a queue that already holds a nudge, so a class with no
    worker (no GPU node yet) collects one message, not one per beat."""
    for resource in wakes(resource_class):
        # An `any` job wakes the GPU queue only when no nudge waits there: a store with no GPU worker yet keeps one
        # message in it, not one per job (the CPU queue is always served).
        spare = resource_class == ResourceClass.ANY and resource != ResourceClass.CPU
        if (unless_waiting or spare) and waiting(settings.JOB_QUEUES[resource]):
            continue
        try:
            current_app.send_task("workers.tasks.run_jobs", args=[resource], queue=settings.JOB_QUEUES[resource],
                                  retry=False)  # fmt: skip
        except Exception as exc:  # kombu's OperationalError, redis errors
            logger.warning("could not wake a %s worker (%s: %s); beat will", resource, type(exc).__name__, exc)


def waiting(queue: str) -> int:
    """Messages waiting in a queue (kombu's Redis transport keeps a queue as a list of that name); 0 if unknown."""
    try:
        with current_app.connection_for_write() as conn:
            return int(conn.default_channel.client.llen(queue))
    except Exception:  # no broker, or not Redis: nudge anyway
        return 0
