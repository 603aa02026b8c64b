"""Background work of the workers app: inference on the `infer` queue (threads pool: many calls per process)."""

from celery import shared_task

from workers import inference


@shared_task(acks_late=False)  # a lost call is answered by the gateway's timeout, never run twice
def generate(request: dict) -> dict:
    """Run one call's generation and stream its tokens into Redis (see workers.inference)."""
    return inference.run_generation(request)
