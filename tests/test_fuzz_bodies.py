"""Hypothesis fuzzing of /v1 request bodies and of NDJSON commit operations (issue #10): whatever arrives, the answer
is never a 500, a refusal is in the route's documented error shape, and a refused request holds or stores nothing."""

import base64
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.models import Reservation
from marketplace.money import MICRO
from marketplace.services import ledger, listings

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=40)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                                inner, max_size=4),
                           max_leaves=12)  # fmt: skip


def mostly(good, bad=None):
    """Values that pass the first checks most of the time, so that the deeper ones run too."""
    bad = bad if bad is not None else json_values
    return st.integers(0, 11).flatmap(lambda draw: bad if draw == 0 else good)


messages = mostly(st.lists(
    st.fixed_dictionaries({"role": mostly(st.sampled_from(["user", "system", "assistant", "developer"])),
                           "content": mostly(st.text(max_size=60))}),
    min_size=1, max_size=4,
))  # fmt: skip
SAMPLING = {
    "temperature": mostly(st.floats(0, 2) | st.sampled_from([1e-45, 5e-324, 2.0])),
    "top_p": mostly(st.floats(0, 1)),
    "top_k": mostly(st.integers(0, 20_000)),
    "n": mostly(st.integers(1, 12)),
    "num_beams": mostly(st.integers(1, 12)),
    "seed": mostly(st.integers(-(2**65), 2**65)),
    "stop": mostly(st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=6)),
    "stream": mostly(st.booleans()),
    "stream_options": mostly(st.fixed_dictionaries({"include_usage": st.booleans()})),
    "presence_penalty": mostly(st.floats(-2, 2)),
    "frequency_penalty": mostly(st.floats(-2.5, 2.5)),
    "logit_bias": mostly(st.just({})),
    "user": mostly(st.text(max_size=10)),
}
MODELS = mostly(st.sampled_from(["alice/tiny-gpt", "alice/tiny-gpt@main", "alice/nothing", "alice/tiny-gpt@v9"]))
completion_bodies = st.fixed_dictionaries(
    {"model": MODELS, "prompt": mostly(st.text(min_size=1, max_size=80))},
    optional={**SAMPLING, "max_tokens": mostly(st.integers(1, 200)), "logprobs": mostly(st.integers(0, 6)),
              "echo": mostly(st.just(False))},
)  # fmt: skip
chat_bodies = st.fixed_dictionaries(
    {"model": MODELS, "messages": messages},
    optional={**SAMPLING, "max_completion_tokens": mostly(st.integers(1, 200)), "logprobs": mostly(st.booleans()),
              "top_logprobs": mostly(st.integers(0, 21)), "tool_choice": mostly(st.just("none"))},
)  # fmt: skip
junk = st.dictionaries(st.text(max_size=10), json_values, max_size=5) | json_values
v1_requests = (
    st.tuples(st.just("/v1/completions"), completion_bodies.map(json.dumps))
    | st.tuples(st.just("/v1/chat/completions"), chat_bodies.map(json.dumps))
    | st.tuples(st.sampled_from(["/v1/completions", "/v1/chat/completions"]),
                junk.map(json.dumps) | st.binary(max_size=64))
)  # fmt: skip


@pytest.fixture
def v1(served_commit, consumer, make_key, settings):
    """A callable model with a real tokenizer; no infer worker: a call that passes every check is refused at the
    queue (INFER_QUEUE_LIMIT = 0: 503 model_overloaded), so every check runs and nothing waits."""
    settings.INFER_QUEUE_LIMIT = 0
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    return Client(raise_request_exception=False), make_key(consumer, scopes=("infer",))


@FUZZ
@given(request=v1_requests)
def test_v1_bodies_never_answer_500_and_refusals_are_openai_errors(v1, request):
    client, key = v1
    path, body = request
    response = client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code in (400, 404, 413, 503), (response.status_code, body, response.content[:300])
    error = json.loads(response.content)["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] in ("invalid_request_error", "server_error")
    assert error["param"] is None or isinstance(error["param"], str)
    assert isinstance(error["code"], str)
    assert Reservation.objects.count() == 0


paths = mostly(st.sampled_from(["a.txt", "config.json", "dir/b.bin", "README.md"]),
               st.sampled_from(["../x", "", ".", "a" * 300, "x/" * 10 + "y", "a\x00b"]) | st.text(max_size=20)
               | json_values)  # fmt: skip
contents = mostly(st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode()))
oids = mostly(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
operations = st.one_of(
    st.fixed_dictionaries({"key": st.just("file"), "value": st.fixed_dictionaries(
        {"path": paths, "content": contents}, optional={"encoding": mostly(st.just("base64"))})}),
    st.fixed_dictionaries({"key": st.just("lfsFile"), "value": st.fixed_dictionaries(
        {"path": paths, "oid": oids}, optional={"algo": mostly(st.just("sha256")), "size": json_values})}),
    st.fixed_dictionaries({"key": mostly(st.sampled_from(["deletedFile", "deletedFolder"])),
                           "value": mostly(st.fixed_dictionaries({"path": paths}))}),
)  # fmt: skip
headers = mostly(st.fixed_dictionaries({"key": st.just("header"), "value": st.fixed_dictionaries(
    {"summary": mostly(st.text(max_size=20))},
    optional={"description": mostly(st.text(max_size=20)), "parentCommit": mostly(st.none(), st.text(
        alphabet="0123456789abcdef", min_size=40, max_size=40) | json_values)})}))  # fmt: skip
lines = st.tuples(headers, st.lists(mostly(operations), max_size=5)).map(lambda t: [t[0], *t[1]])
ndjson_bodies = mostly(lines.map(lambda items: "\n".join(json.dumps(item) for item in items) + "\n"),
                       st.text(max_size=200))  # fmt: skip


@pytest.fixture
def repo(provider, provider_key):
    from registry import services

    services.create_model(owner=provider, name="fuzz")
    return Client(raise_request_exception=False), provider_key


@FUZZ
@given(body=ndjson_bodies)
def test_ndjson_commits_never_answer_500_and_refusals_store_nothing(repo, body):
    from registry.models import Commit

    client, key = repo
    commits = Commit.objects.count()
    response = client.post("/api/models/alice/fuzz/commit/main", body, content_type="application/x-ndjson",
                           HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip

    assert response.status_code in (200, 400, 404, 409, 413), (response.status_code, body, response.content[:300])
    if response.status_code != 200:
        assert isinstance(json.loads(response.content)["error"], str)
        assert Commit.objects.count() == commits
    else:
        assert Commit.objects.count() == commits + 1
