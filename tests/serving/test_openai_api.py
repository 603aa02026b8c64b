"""The stock `openai` client is the conformance test of /v1: a live server, a real infer worker, real Redis."""

import openai
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from marketplace.models import AccountKind, UsageRecord
from marketplace.money import MICRO, token_cost
from marketplace.services import ledger, listings
from tests.conftest import greedy
from tests.conftest import wait_until as wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listed(served_commit):
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    return served_commit


@pytest.fixture
def client(live_server, consumer, make_key, listed, infer_worker):
    ledger.top_up(user=consumer, amount=10 * MICRO)
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(consumer, scopes=("infer",)), max_retries=0)


def test_models_list_and_retrieve(client):
    assert [m.id for m in client.models.list().data] == ["alice/tiny-gpt"]
    model = client.models.retrieve("alice/tiny-gpt")
    assert (model.id, model.owned_by, model.object) == ("alice/tiny-gpt", "alice", "model")


def test_completion_matches_generate_and_is_charged(client, consumer, listed, tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    prompt_ids = tokenizer("def main():")["input_ids"]
    expected_ids = greedy(tiny_checkpoint, prompt_ids, 8)
    if tokenizer.eos_token_id in expected_ids:
        expected_ids = expected_ids[: expected_ids.index(tokenizer.eos_token_id) + 1]

    raw = client.completions.with_raw_response.create(
        model="alice/tiny-gpt", prompt="def main():", max_tokens=8, temperature=0
    )
    completion = raw.parse()

    assert raw.headers["x-request-id"].startswith("req_")
    assert int(raw.headers["x-ratelimit-limit-requests"]) == 600
    assert completion.choices[0].text == tokenizer.decode(expected_ids, skip_special_tokens=True)
    assert completion.system_fingerprint == listed.sha
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (len(prompt_ids), len(expected_ids))
    cost = token_cost(prompt_tokens=len(prompt_ids), completion_tokens=len(expected_ids), prompt_price=2 * MICRO,
                      completion_price=6 * MICRO)  # fmt: skip
    wait_for(lambda: UsageRecord.objects.filter(request_id=raw.headers["x-request-id"]).exists())  # after sending
    record = UsageRecord.objects.get(request_id=raw.headers["x-request-id"])
    assert (record.cost, record.commit_sha) == (cost, listed.sha)
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO - cost, 0)


def test_streamed_chat_equals_the_plain_answer_and_ends_with_usage(client):
    messages = [{"role": "user", "content": "Say something about lists."}]
    plain = client.chat.completions.create(model="alice/tiny-gpt", messages=messages, max_tokens=10, temperature=0)
    chunks = list(client.chat.completions.create(model="alice/tiny-gpt", messages=messages, max_tokens=10,
                                                 temperature=0, stream=True, stream_options={"include_usage": True}))  # fmt: skip

    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == plain.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert chunks[-2].choices[0].finish_reason == plain.choices[0].finish_reason
    wait_for(lambda: UsageRecord.objects.filter(status="ok").count() == 2)


def test_errors_arrive_as_the_clients_exceptions(client, live_server, consumer):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="gpts_wrong", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError) as missing:
        client.completions.create(model="alice/nothing", prompt="x", max_tokens=2)
    assert (missing.value.code, missing.value.type) == ("model_not_found", "invalid_request_error")
    with pytest.raises(openai.BadRequestError) as bad:
        client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=2, temperature=3)
    assert (bad.value.body["param"], bad.value.type) == ("temperature", "invalid_request_error")  # as OpenAI types it
    with pytest.raises(openai.BadRequestError) as too_long:
        client.completions.create(model="alice/tiny-gpt", prompt="word " * 100, max_tokens=100)
    assert too_long.value.code == "context_length_exceeded"
    ledger.reverse_transaction(
        transaction_id=ledger.account_for(consumer.pk, AccountKind.WALLET).entries.get().transaction_id
    )
    with pytest.raises(openai.RateLimitError) as broke:
        client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=2)
    assert broke.value.code == "insufficient_quota"
    assert UsageRecord.objects.filter(cost__gt=0).count() == 0  # nothing refused was charged
    assert ledger.audit_ledger().ok


def test_sixteen_concurrent_streams_all_complete(client):
    from concurrent.futures import ThreadPoolExecutor

    def stream(index):
        chunks = client.completions.create(model="alice/tiny-gpt", prompt=f"item {index}:", max_tokens=12,
                                           temperature=0.8, seed=index, stream=True)  # fmt: skip
        return [c.choices[0].finish_reason for c in chunks if c.choices][-1]

    with ThreadPoolExecutor(16) as pool:
        reasons = list(pool.map(stream, range(16)))

    assert len(reasons) == 16 and set(reasons) <= {"stop", "length"}
    wait_for(lambda: UsageRecord.objects.filter(status="ok").count() == 16)  # settled after the last byte
    assert ledger.audit_ledger().ok


def test_a_client_that_disconnects_mid_stream_is_charged_only_for_what_was_made(client, consumer, monkeypatch):
    import time

    from engine.batching import BatchEngine

    decode = BatchEngine._decode

    def paced(engine):  # 50 ms a token: the client is gone long before the 100th, however busy the machine is
        time.sleep(0.05)
        decode(engine)

    monkeypatch.setattr(BatchEngine, "_decode", paced)
    stream = client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=100, temperature=1.0,
                                       seed=3, stream=True, extra_body={"frequency_penalty": 0})  # fmt: skip
    first = next(iter(stream))
    assert first.choices[0].text is not None
    stream.close()  # the client goes away

    deadline = time.monotonic() + 30
    while not UsageRecord.objects.filter(status="cancelled").exists():
        assert time.monotonic() < deadline, f"not settled as cancelled: {list(UsageRecord.objects.values())}"
        time.sleep(0.1)
    record = UsageRecord.objects.get()
    assert 0 < record.completion_tokens < 100
    assert record.cost == token_cost(prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens,
                                     prompt_price=2 * MICRO, completion_price=6 * MICRO)  # fmt: skip
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO - record.cost, 0)


def test_a_model_past_its_queue_bound_answers_503_and_charges_nothing(client, consumer, settings):
    settings.INFER_QUEUE_LIMIT = 0

    with pytest.raises(openai.InternalServerError) as busy:
        client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=2)

    assert (busy.value.status_code, busy.value.code) == (503, "model_overloaded")
    assert busy.value.response.headers["retry-after"] == "2"
    assert UsageRecord.objects.filter(cost__gt=0).count() == 0
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0)


def test_n_choices_are_sampled_with_their_own_seeds_and_charged_together(client, consumer):
    completion = client.completions.create(
        model="alice/tiny-gpt", prompt="x", max_tokens=6, temperature=1.0, seed=5, n=3
    )
    again = client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=6, temperature=1.0, seed=5, n=3)
    streamed = list(client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=6, temperature=1.0,
                                              seed=5, n=3, stream=True))  # fmt: skip

    texts = [choice.text for choice in completion.choices]
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert texts == [choice.text for choice in again.choices]  # same seed, same samples
    assert len(set(texts)) > 1  # seed + i per choice: not three copies
    joined = ["".join(c.choices[0].text for c in streamed if c.choices and c.choices[0].index == i) for i in range(3)]
    assert joined == texts
    tokens = completion.usage.completion_tokens
    assert 3 <= tokens <= 18  # the three choices together, 1 to 6 tokens each
    wait_for(lambda: UsageRecord.objects.count() == 3)
    first = UsageRecord.objects.order_by("id").first()
    assert (first.prompt_tokens, first.completion_tokens) == (completion.usage.prompt_tokens, tokens)
    with pytest.raises(openai.BadRequestError) as too_many:
        client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=2, n=9)
    assert too_many.value.body["param"] == "n"


def test_beam_search_returns_transformers_best_beams(client, tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    prompt_ids = tokenizer("def main():")["input_ids"]
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                             max_new_tokens=8, num_beams=4, num_return_sequences=2, do_sample=False,
                             early_stopping=True, pad_token_id=tokenizer.eos_token_id)  # fmt: skip
    expected = []
    for row in out[:, len(prompt_ids) :].tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id) + 1]
        expected.append(tokenizer.decode(row, skip_special_tokens=True))

    completion = client.completions.create(
        model="alice/tiny-gpt", prompt="def main():", max_tokens=8, n=2, extra_body={"num_beams": 4}
    )  # temperature is left at its default: beam search does not sample
    streamed = list(client.completions.create(model="alice/tiny-gpt", prompt="def main():", max_tokens=8, n=2,
                                              stream=True, extra_body={"num_beams": 4}))  # fmt: skip

    assert [choice.text for choice in completion.choices] == expected
    joined = ["".join(c.choices[0].text for c in streamed if c.choices and c.choices[0].index == i) for i in range(2)]
    assert joined == expected
    greedy_text = tokenizer.decode(greedy(tiny_checkpoint, prompt_ids, 8), skip_special_tokens=True)
    assert completion.choices[0].text != greedy_text  # for this prompt the best beam is not the greedy answer
    for body, param in (({"num_beams": 2}, "n"), ({"num_beams": 4, "frequency_penalty": 1}, "frequency_penalty"),
                        ({"num_beams": 9}, "num_beams")):  # fmt: skip
        with pytest.raises(openai.BadRequestError) as bad:
            client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=2, n=3, extra_body=body)
        assert bad.value.body["param"] == param


def test_logprobs_are_the_models_and_stream_as_in_the_plain_answer(client, tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    prompt_ids = tokenizer("def main():")["input_ids"]
    generated = greedy(tiny_checkpoint, prompt_ids, 4)
    with torch.no_grad():
        scores = torch.log_softmax(model(torch.tensor([prompt_ids + generated])).logits[0].float(), dim=-1)
    steps = scores[len(prompt_ids) - 1 : -1]
    expected = [steps[i, token].item() for i, token in enumerate(generated)]
    expected_top = [[tokenizer.decode([t]) for t in step.topk(2).indices.tolist()] for step in steps]

    plain = client.completions.create(model="alice/tiny-gpt", prompt="def main():", max_tokens=4, temperature=0,
                                      logprobs=2)  # fmt: skip
    messages = [{"role": "user", "content": "def main():"}]
    chat = client.chat.completions.create(model="alice/tiny-gpt", messages=messages, max_tokens=4, temperature=0,
                                          logprobs=True, top_logprobs=2)  # fmt: skip
    chunks = list(client.chat.completions.create(model="alice/tiny-gpt", messages=messages, max_tokens=4,
                                                 temperature=0, logprobs=True, top_logprobs=2, stream=True))  # fmt: skip

    scored = plain.choices[0].logprobs
    assert scored.tokens == [tokenizer.decode([t]) for t in generated]
    assert scored.token_logprobs == pytest.approx(expected, abs=1e-4)
    assert [list(top) for top in scored.top_logprobs] == expected_top
    streamed = [entry for c in chunks if c.choices and c.choices[0].logprobs for entry in c.choices[0].logprobs.content]
    plain_chat = chat.choices[0].logprobs.content
    assert len(plain_chat) == chat.usage.completion_tokens == len(streamed)
    assert [(e.token, round(e.logprob, 5)) for e in streamed] == [(e.token, round(e.logprob, 5)) for e in plain_chat]
    assert [[t.token for t in e.top_logprobs] for e in streamed] == [
        [t.token for t in e.top_logprobs] for e in plain_chat
    ]


def test_chat_renders_the_models_template_or_the_plain_default(live_server, provider, make_key, checkpoint_copy,
                                                               tiny_checkpoint, served_commit, infer_worker):  # fmt: skip
    import json

    from tests.conftest import commit_valid_checkpoint

    config_path = checkpoint_copy / "tokenizer_config.json"
    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant]"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "chat_template": template}))
    commit_valid_checkpoint(provider, "chat-gpt", checkpoint_copy, context_length=128)
    owner = openai.OpenAI(
        base_url=f"{live_server.url}/v1", api_key=make_key(provider, scopes=("infer",)), max_retries=0
    )
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is a list?"}]
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)

    templated = owner.chat.completions.create(model="alice/chat-gpt", messages=messages, max_tokens=3, temperature=0)
    plain = owner.chat.completions.create(model="alice/tiny-gpt", messages=messages, max_tokens=3, temperature=0)

    for answer, prompt in ((templated, "[system] Be brief.\n[user] What is a list?\n[assistant]"),
                           (plain, "system: Be brief.\nuser: What is a list?\nassistant:")):  # fmt: skip
        ids = tokenizer(prompt)["input_ids"]
        assert answer.usage.prompt_tokens == len(ids)
        assert answer.choices[0].message.content == tokenizer.decode(greedy(tiny_checkpoint, ids, 3),
                                                                     skip_special_tokens=True)  # fmt: skip


def test_a_signed_in_browser_calls_with_its_csrf_token_on_its_own_credits(client, consumer, listed):
    from django.test import Client

    body = {"model": "alice/tiny-gpt", "prompt": "def main():", "max_tokens": 3, "temperature": 0}
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(consumer)

    forged = browser.post("/v1/completions", body, content_type="application/json")  # another site's form
    anonymous = Client().post("/v1/completions", body, content_type="application/json")

    assert forged.status_code == 403 and forged.json()["error"]["message"].startswith("CSRF check failed")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"
    assert UsageRecord.objects.count() == 0
    assert ledger.account_for(consumer.pk, AccountKind.WALLET).balance == 10 * MICRO
    browser.get("/alice/tiny-gpt")  # the model page sets the CSRF cookie
    answer = browser.post("/v1/completions", body, content_type="application/json",
                          HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)  # fmt: skip
    assert answer.status_code == 200, answer.content
    assert answer.json()["choices"][0]["text"] == client.completions.create(**body).choices[0].text
    record = UsageRecord.objects.get(request_id=answer["x-request-id"])
    assert (record.user_id, record.api_key_id, record.completion_tokens) == (consumer.pk, None, 3)
    cost = token_cost(prompt_tokens=record.prompt_tokens, completion_tokens=3, prompt_price=2 * MICRO,
                      completion_price=6 * MICRO)  # fmt: skip
    assert record.cost == cost > 0
    wait_for(lambda: UsageRecord.objects.count() == 2)  # the SDK's call above settles after it was sent
    assert ledger.account_for(consumer.pk, AccountKind.WALLET).balance == 10 * MICRO - 2 * cost


def test_an_unreachable_broker_answers_503_and_charges_nothing(client, consumer):
    from workers.celery import app

    def use_broker(url):  # new connection and producer pools for the new address
        app.conf.broker_url = url
        app._pool = app.amqp._producer_pool = None

    working = app.conf.broker_url
    use_broker("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        with pytest.raises(openai.InternalServerError) as down:
            client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=2)
    finally:
        use_broker(working)

    assert (down.value.status_code, down.value.code) == (503, "service_unavailable")
    assert down.value.response.headers["retry-after"] == "1"
    assert "nothing was charged" in down.value.message
    assert UsageRecord.objects.filter(cost__gt=0).count() == 0
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0)
    assert client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=2).usage.completion_tokens >= 1


def test_chat_content_parts_are_read_as_text_and_unsupported_parameters_are_refused(client, consumer):
    def chat(content, **extra):
        return client.chat.completions.create(model="alice/tiny-gpt", messages=[{"role": "user", "content": content}],
                                              max_tokens=6, temperature=0, **extra)  # fmt: skip

    parts = chat([{"type": "text", "text": "Say something"}, {"type": "text", "text": "about lists."}])
    text = chat("Say something\nabout lists.")
    wait_for(lambda: UsageRecord.objects.filter(status="ok").count() == 2)
    balance = ledger.account_for(consumer.pk, AccountKind.WALLET).balance

    refusals = []
    for content, extra in [
        ([{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}], {}),
        ("hi", {"logit_bias": {"5": 100}}),
        ("hi", {"response_format": {"type": "json_object"}}),
        ("hi", {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
    ]:
        with pytest.raises(openai.BadRequestError) as refused:
            chat(content, **extra)
        refusals.append(refused.value.body["param"])
    with pytest.raises(openai.BadRequestError) as echo:
        client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=2, echo=True)

    assert parts.choices[0].message.content == text.choices[0].message.content
    assert parts.usage.prompt_tokens == text.usage.prompt_tokens
    assert refusals == ["messages", "logit_bias", "response_format", "tools"]
    assert echo.value.body["param"] == "echo" and "not supported" in echo.value.body["message"]
    assert ledger.account_for(consumer.pk, AccountKind.WALLET).balance == balance  # nothing charged for them
    assert UsageRecord.objects.count() == 2
