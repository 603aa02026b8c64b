"""The infer task on a real Celery worker (threads pool) with the real Redis: tokens arrive through a Redis
Stream, identical to generating in process; a cancel request stops the generation."""

import json
import time

import pytest
import redis
import torch
from django.conf import settings
from transformers import AutoModelForCausalLM, AutoTokenizer

from serving import protocol
from workers.tasks import generate

pytestmark = pytest.mark.django_db(transaction=True)


def read_stream(request_id, timeout=60):
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    entries, last, deadline = [], "0", time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _, batch in client.xread({protocol.stream_key(request_id): last}, block=500) or []:
            for entry_id, fields in batch:
                last = entry_id
                entries.append(fields)
                if fields["type"] in ("done", "error"):
                    return entries
    raise AssertionError(f"no end of stream for {request_id}: {entries}")


def test_tokens_stream_through_redis_and_match_generating_in_process(infer_worker, served_commit, tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    prompt = tokenizer("def main():")["input_ids"]
    request = {"request_id": "req_stream_1", "commit_id": served_commit.pk, "commit_sha": served_commit.sha, "prompt_ids": prompt,
               "params": {"max_tokens": 12, "temperature": 0.0, "logprobs": 2}, "stop": []}  # fmt: skip

    generate.delay(request)
    entries = read_stream("req_stream_1")

    tokens = [int(e["token"]) for e in entries if e["type"] == "token" and int(e["token"]) >= 0]
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    with torch.no_grad():
        expected = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                  max_new_tokens=12, do_sample=False, pad_token_id=0, eos_token_id=None)  # fmt: skip
    assert tokens == expected[0, len(prompt) :].tolist()[: len(tokens)]
    done = entries[-1]
    assert (done["type"], done["prompt_tokens"], done["completion_tokens"]) == (
        "done",
        str(len(prompt)),
        str(len(tokens)),
    )
    assert done["finish_reason"] in ("length", "stop")
    assert "".join(e["text"] for e in entries if e["type"] == "token") == tokenizer.decode(
        tokens, skip_special_tokens=True
    )
    assert all(len(json.loads(e["top"])) == 2 for e in entries if e["type"] == "token" and int(e["token"]) >= 0)


def test_a_cancel_request_stops_the_generation(infer_worker, served_commit, tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    request = {"request_id": "req_cancel_1", "commit_id": served_commit.pk, "commit_sha": served_commit.sha, "prompt_ids": tokenizer("x")["input_ids"],
               "params": {"max_tokens": 100, "temperature": 1.0, "seed": 1, "stop_token_ids": []}, "stop": []}  # fmt: skip
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(protocol.cancel_key("req_cancel_1"), 1, ex=60)  # the client is gone before it even started

    generate.delay(request)
    done = read_stream("req_cancel_1")[-1]

    assert done["finish_reason"] == "cancelled"
    assert int(done["completion_tokens"]) < 100


def test_a_relay_that_cannot_reach_redis_fails_its_calls_and_stops_them_and_goes_on(tiny_checkpoint):
    from types import SimpleNamespace

    from engine.batching import BatchEngine
    from workers.batching_backend import BatchedCall
    from workers.inference import Relay

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    relay = Relay(redis.Redis.from_url("redis://127.0.0.1:1/0"))  # nothing listens there
    engine = BatchEngine(AutoModelForCausalLM.from_pretrained(tiny_checkpoint), on_step=relay.wake).start()
    loaded = SimpleNamespace(engine=engine, tokenizer=tokenizer)
    try:
        for request_id in ("req_lost_1", "req_lost_2"):  # the second shows the relay outlived the first failure
            request = protocol.GenerateRequest(request_id, 1, "sha", (5, 6, 7), {"max_tokens": 100, "temperature": 0.0})
            call = BatchedCall(request, loaded)
            writing = relay.add(call, protocol.stream_key(request_id), started=True)
            call.run()

            assert writing.ended.wait(10)
            assert isinstance(writing.failure, redis.ConnectionError) and writing.summary is None
            assert call.generations[0].wait(10) and call.generations[0].finish_reason == "cancelled"
            assert len(call.generations[0].tokens) < 100
        assert relay.thread.is_alive()
    finally:
        engine.stop()


@pytest.mark.parametrize("gone", ["deadline", "cancelled"])
def test_a_generation_nobody_waits_for_is_dropped_without_computing(served_commit, gone):
    """A redelivered or long-queued call whose gateway gave up (504) or whose client left is not computed."""
    from workers import batching_backend, inference

    batching_backend.model_cache.cache_clear()
    request = {"request_id": f"req_gone_{gone}", "commit_id": served_commit.pk, "commit_sha": served_commit.sha,
               "prompt_ids": [1, 2, 3], "params": {"max_tokens": 4, "temperature": 0.0}, "stop": [],
               "deadline": time.time() - 1 if gone == "deadline" else time.time() + 60}  # fmt: skip
    client = redis.Redis.from_url(settings.REDIS_URL)
    if gone == "cancelled":
        client.set(protocol.cancel_key(request["request_id"]), 1, ex=60)

    summary = inference.run_generation(protocol.GenerateRequest.from_message(request))

    reason = "its deadline passed" if gone == "deadline" else "its caller went away"
    assert (summary["finish_reason"], summary["completion_tokens"]) == ("cancelled", 0)
    assert summary["error"].startswith(f"dropped: {reason}")
    assert served_commit.sha not in batching_backend.model_cache()  # the model was never even loaded
    assert read_stream(request["request_id"]) == [{**{k: str(v) for k, v in summary.items()}}]  # only its end
