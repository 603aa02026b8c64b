"""Redis killed (SIGKILL) and started again under /v1 and Hugging Face traffic, on a redis-server of the test's
own (issue #10, finding 4). In-flight plain calls answer a JSON 503 with Retry-After, in-flight streams end with
an error event, a commit made while Redis is down is stored, answered 200 and validated once Redis is back, and
the books balance throughout."""

import datetime as dt
import threading
import time

import openai
import pytest
import redis
from huggingface_hub import HfApi

from marketplace.models import AccountKind, Reservation, UsageRecord
from marketplace.money import MICRO
from marketplace.services import ledger, listings
from registry.models import Commit, ValidationStatus
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def start_worker(queues: list[str]):
    from celery.contrib.testing.worker import start_worker as celery_worker

    from workers.celery import app

    return celery_worker(app, pool="threads", concurrency=4, queues=queues, perform_ping_check=False,
                         loglevel="WARNING")  # fmt: skip


def test_calls_in_flight_when_redis_dies_get_503_or_an_error_event_and_cost_nothing(
    own_redis, live_server, consumer, make_key, served_commit
):
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(consumer, scopes=("infer",)),
                           max_retries=0, timeout=60)  # fmt: skip
    outcomes: dict = {}

    def plain():
        try:
            client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=8)
        except openai.APIStatusError as exc:
            outcomes["plain"] = (exc.status_code, exc.code, exc.response.headers.get("retry-after"))

    def stream():
        chunks = client.chat.completions.create(model="alice/tiny-gpt", messages=[{"role": "user", "content": "x"}],
                                                max_tokens=8, stream=True)  # fmt: skip
        try:
            for chunk in chunks:
                outcomes.setdefault("chunks", []).append(chunk.choices[0].delta.role)
        except openai.APIError as exc:
            outcomes["stream"] = exc.code

    from workers import batching_backend, heartbeat

    heartbeat.heartbeat()  # an infer worker is up (it beats) but takes no call yet: nothing consumes `infer`
    callers = [threading.Thread(target=plain), threading.Thread(target=stream)]
    for caller in callers:
        caller.start()
    # both calls are authorized, queued on `infer`, and waiting on their token streams
    broker = redis.Redis.from_url(own_redis.url)
    wait_until(lambda: broker.llen("infer") == 2 and Reservation.objects.count() == 2)
    own_redis.kill()
    for caller in callers:
        caller.join(timeout=60)

    assert outcomes["plain"] == (503, "service_unavailable", "1")
    assert outcomes["chunks"] == ["assistant"] and outcomes["stream"] == "service_unavailable"
    wait_until(lambda: UsageRecord.objects.count() == 2)
    assert sorted(UsageRecord.objects.values_list("status", "cost")) == [("error", 0), ("error", 0)]
    assert Reservation.objects.count() == 0
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0)

    own_redis.start()  # Redis is back: the next call is served (with an infer worker on the restarted Redis)
    with start_worker(["infer"]):
        wait_until(lambda: broker.zcard("infer:workers") == 1)  # the heartbeat beats again on the new Redis
        completion = client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=4, temperature=0)
    heartbeat.stop_heartbeat()
    for loaded in batching_backend.model_cache()._models.values():
        loaded.engine.stop()
    batching_backend.model_cache.cache_clear()
    assert completion.usage.completion_tokens >= 1
    wait_until(lambda: UsageRecord.objects.filter(status="ok").count() == 1)
    assert ledger.audit_ledger().ok


def test_a_commit_while_redis_is_down_is_stored_answered_200_and_validated_once_redis_is_back(
    own_redis, live_server, provider_key, tiny_checkpoint
):
    from registry import tasks

    api = HfApi(endpoint=live_server.url, token=provider_key)
    api.create_repo("alice/tiny-gpt")
    own_redis.kill()

    started = time.monotonic()
    info = api.upload_folder(repo_id="alice/tiny-gpt", folder_path=tiny_checkpoint)  # raises on any 5xx
    answered_in = time.monotonic() - started

    commit = Commit.objects.get()
    assert (commit.sha, commit.validation_status) == (info.oid, ValidationStatus.PENDING)
    assert answered_in < 10

    own_redis.start()
    # as if beat's next run came after the two minutes it gives a pending commit
    Commit.objects.filter(pk=commit.pk).update(created_at=commit.created_at - dt.timedelta(minutes=5))
    with start_worker(["validate", "default"]):
        assert tasks.requeue_stuck_validations() == 1
        wait_until(lambda: Commit.objects.get().validation_status == ValidationStatus.VALID, timeout=60)
    assert Commit.objects.count() == 1  # the client had nothing to retry: no duplicate commit
