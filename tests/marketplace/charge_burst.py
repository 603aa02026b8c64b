"""Fire authorize-and-settle calls from many threads at the shared database and Redis, as web processes would.

`fire` is used in the test process; run as a module it is a separate process for the multi-process tests, and
prints a JSON summary on its last line:

    python -m tests.marketplace.charge_burst --user U --key K --model M --calls N --threads T --start-at EPOCH
"""

import argparse
import json
import os
import threading
import time
from collections import Counter


def fire(*, user, api_key, model, calls: int, threads: int, prompt: int, max_tokens: int) -> Counter:
    """`calls` authorize + settle pairs over `threads` threads that start together: outcome -> count."""
    from django.db import connections

    from core.exceptions import DomainError
    from marketplace.services import metering

    outcomes: Counter = Counter()
    lock = threading.Lock()
    remaining = iter(range(calls))
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        try:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                try:
                    granted = metering.authorize(
                        user=user, api_key=api_key, model=model, prompt_tokens=prompt, max_tokens=max_tokens
                    )
                    metering.settle(request_id=granted.request_id, prompt_tokens=prompt, completion_tokens=max_tokens)
                    outcome = "admitted"
                except DomainError as exc:
                    outcome = exc.code
                with lock:
                    outcomes[outcome] += 1
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("user", "key", "model", "calls", "threads", "prompt", "max-tokens"):
        parser.add_argument(f"--{name}", type=int, default=0)
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.db import connections

    from accounts.models import ApiKey, User
    from registry.models import Model

    user = User.objects.get(pk=args.user)
    api_key = ApiKey.objects.get(pk=args.key) if args.key else None
    model = Model.objects.select_related("owner").get(pk=args.model)
    connections.close_all()
    time.sleep(max(0.0, args.start_at - time.time()))
    outcomes = fire(user=user, api_key=api_key, model=model, calls=args.calls, threads=args.threads,
                    prompt=args.prompt, max_tokens=args.max_tokens)  # fmt: skip
    print(json.dumps(dict(outcomes)))


if __name__ == "__main__":
    main()
