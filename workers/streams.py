"""Names of the Redis keys a call's tokens travel through, shared by the gateway and the infer worker (no torch
here, so web processes never import the ML runtime)."""


def stream_key(request_id: str) -> str:
    """The Redis Stream the worker writes a call's tokens to."""
    return f"infer:{request_id}"


def cancel_key(request_id: str) -> str:
    """Set by the gateway when the client went away; the worker then stops the generation."""
    return f"infer:{request_id}:cancel"


GENERATE_TASK = "workers.tasks.generate"


def worker_key(worker_id: str) -> str:
    """Present while the infer worker `worker_id` is alive: it refreshes the key every second, with a TTL of
    WORKER_HEARTBEAT_TTL_SECONDS. A call whose worker's key is gone will get no more tokens."""
    return f"infer:worker:{worker_id}"


WORKER_HEARTBEAT_TTL_SECONDS = 3
