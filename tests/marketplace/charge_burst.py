"""A separate process that fires authorize-and-settle calls at the shared database and Redis, as a web
process would. Started by the concurrency tests; prints a JSON summary on its last line.

    python -m tests.marketplace.charge_burst --user U --key K --model M --calls N --threads T --start-at EPOCH
"""

import argparse
import json
import os
import threading
import time
from collections import Counter


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

    from marketplace.exceptions import DomainError
    from marketplace.models import ApiKey, User
    from marketplace.services import metering
    from registry.models import Model

    user = User.objects.get(pk=args.user)
    api_key = ApiKey.objects.get(pk=args.key) if args.key else None
    model = Model.objects.select_related("owner").get(pk=args.model)
    outcomes: Counter = Counter()
    lock = threading.Lock()
    remaining = iter(range(args.calls))

    def work() -> None:
        try:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                try:
                    granted = metering.authorize(
                        user=user, api_key=api_key, model=model, prompt_tokens=args.prompt, max_tokens=args.max_tokens
                    )
                    metering.settle(
                        request_id=granted.request_id, prompt_tokens=args.prompt, completion_tokens=args.max_tokens
                    )
                    outcome = "admitted"
                except DomainError as exc:
                    outcome = exc.code
                with lock:
                    outcomes[outcome] += 1
        finally:
            connections.close_all()

    connections.close_all()
    time.sleep(max(0.0, args.start_at - time.time()))
    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(dict(outcomes)))


if __name__ == "__main__":
    main()
