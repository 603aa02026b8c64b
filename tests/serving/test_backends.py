"""The inference seam's first half: a typed GenerateRequest travels to the queue of the backend that configuration
names, and a worker refuses a request meant for another backend instead of serving it differently."""

import math

import openai
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from marketplace.models import AccountKind
from marketplace.money import MICRO
from marketplace.services import ledger, listings
from serving import protocol
from serving.protocol import GenerateRequest
from workers import batching_backend, heartbeat, inference
from workers.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_generate_request_survives_its_trip_as_a_celery_message():
    request = GenerateRequest(request_id="r1", commit_id=7, commit_sha="a" * 40, prompt_ids=(1, 2, 3),
                              params={"max_tokens": 5, "temperature": 0.0}, stop=("\n",), n=2, deadline=1e9)  # fmt: skip

    message = request.as_message()

    assert message == {"request_id": "r1", "commit_id": 7, "commit_sha": "a" * 40, "prompt_ids": [1, 2, 3],
                       "params": {"max_tokens": 5, "temperature": 0.0}, "stop": ["\n"], "n": 2, "num_beams": 1,
                       "deadline": 1e9, "backend": "batching"}  # fmt: skip
    assert GenerateRequest.from_message(message) == request
    newer = {**message, "priority": "high", "deadline": None}  # a newer gateway's field; no deadline
    assert GenerateRequest.from_message(newer) == GenerateRequest(**{**vars(request), "deadline": math.inf})
    assert "deadline" not in GenerateRequest.from_message(newer).as_message()  # JSON has no infinity


@pytest.fixture
def alt_queue_worker(transactional_db):
    """A batching worker that consumes `infer-alt` only, as a second pool of inference workers would."""
    with start_worker(app, pool="threads", concurrency=4, queues=["infer-alt"], perform_ping_check=False,
                      loglevel="WARNING"):  # fmt: skip
        heartbeat.heartbeat()
        yield
    heartbeat.stop_heartbeat()
    for loaded in batching_backend.model_cache()._models.values():
        loaded.engine.stop()
    batching_backend.model_cache.cache_clear()


def test_calls_go_to_the_queue_that_configuration_names_for_the_backend(settings, live_server, served_commit,
                                                                         consumer, make_key, alt_queue_worker):  # fmt: skip
    settings.INFERENCE_BACKENDS = {"batching": "infer-alt"}  # no worker consumes `infer` in this test
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(consumer, scopes=("infer",)),
                           max_retries=0, timeout=60)  # fmt: skip

    answer = client.completions.create(model="alice/tiny-gpt", prompt="def main():", max_tokens=4, temperature=0)

    assert answer.usage.completion_tokens == 4 and answer.choices[0].finish_reason == "length"


def test_a_worker_refuses_a_request_for_another_backend_and_says_why(served_commit):
    request = GenerateRequest(request_id="req_wrong_backend", commit_id=served_commit.pk, commit_sha=served_commit.sha,
                              prompt_ids=(1, 2), params={"max_tokens": 3}, backend="vllm")  # fmt: skip

    inference.run_generation(request)

    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    [(_, fields)] = client.xrange(protocol.stream_key("req_wrong_backend"))
    assert protocol.decode(fields) == protocol.Failure(
        "LookupError: this worker runs the 'batching' inference backend, not 'vllm': check INFERENCE_BACKEND_QUEUES"
    )
    assert served_commit.sha not in batching_backend.model_cache()  # nothing was loaded for it


def test_a_backend_without_live_workers_answers_503_at_once_and_charges_nothing(settings, live_server, served_commit,
                                                                                consumer, make_key, infer_worker):  # fmt: skip
    """Workers of another backend are alive (the batching worker beats): a call routed to `vllm` would wait for
    nobody, so it is refused at once."""
    settings.INFERENCE_BACKENDS, settings.INFERENCE_BACKEND = {"batching": "infer", "vllm": "infer-vllm"}, "vllm"
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(consumer, scopes=("infer",)),
                           max_retries=0, timeout=30)  # fmt: skip

    with pytest.raises(openai.APIStatusError) as refused:
        client.completions.create(model="alice/tiny-gpt", prompt="def main():", max_tokens=4)

    assert (refused.value.status_code, refused.value.body["code"]) == (503, "no_worker")
    assert ledger.account_for(consumer.pk, AccountKind.WALLET).held == 0
    assert ledger.account_for(consumer.pk, AccountKind.WALLET).balance == 10 * MICRO
    settings.INFERENCE_BACKEND = "batching"  # the same call, routed to the live backend, is served
    assert (
        client.completions.create(model="alice/tiny-gpt", prompt="def main():", max_tokens=4).usage.completion_tokens
        == 4
    )
