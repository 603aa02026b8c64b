"""/v1 when a generation fails or a caller tries to poison the batch (issue #10): failures are errors, never a
finish, and they stay with the call that caused them. The stock `openai` client, a live server, a real infer worker."""

import openai
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from marketplace.models import AccountKind, UsageRecord
from marketplace.money import MICRO
from marketplace.services import ledger, listings
from tests.conftest import greedy
from tests.conftest import wait_until as wait_for
from tests.serving.test_openai_api import client, listed  # noqa: F401 (fixtures used as parameters)

pytestmark = pytest.mark.django_db(transaction=True)


def test_poisoning_attempts_are_refused_or_served_and_a_long_stream_next_to_them_finishes_untouched(
    client, consumer, tiny_checkpoint
):
    """A seed of 2^64 raised in the engine and a temperature of 1e-45 made NaN: either failed every generation in
    the batch, and /v1 reported the victims' truncated answers as finish_reason 'length' and charged them."""
    from concurrent.futures import ThreadPoolExecutor

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    prompt_ids = tokenizer("class Stack:")["input_ids"]
    expected = greedy(tiny_checkpoint, prompt_ids, 100)
    if tokenizer.eos_token_id in expected:
        expected = expected[: expected.index(tokenizer.eos_token_id) + 1]

    def long_stream():
        chunks = list(client.completions.create(model="alice/tiny-gpt", prompt="class Stack:", max_tokens=100,
                                                temperature=0, stream=True))  # fmt: skip
        return "".join(c.choices[0].text for c in chunks if c.choices), chunks[-1].choices[0].finish_reason

    def poison():
        refused = []
        for seed in (2**63, 2**64, -1):
            with pytest.raises(openai.BadRequestError) as bad_seed:
                client.completions.create(model="alice/tiny-gpt", prompt="x", max_tokens=4, temperature=1, seed=seed)
            refused.append(bad_seed.value.body["param"])
        tiny = [client.completions.create(model="alice/tiny-gpt", prompt="class Stack:", max_tokens=4,
                                          temperature=1e-45, seed=7) for _ in range(4)]  # fmt: skip
        return refused, [completion.choices[0].text for completion in tiny]

    with ThreadPoolExecutor(2) as pool:
        streamed = pool.submit(long_stream)
        refused, tiny_texts = pool.submit(poison).result()
        text, reason = streamed.result()

    assert text == tokenizer.decode(expected, skip_special_tokens=True)
    assert reason == ("stop" if expected[-1] == tokenizer.eos_token_id else "length")
    assert refused == ["seed"] * 3
    assert tiny_texts == [tokenizer.decode(expected[:4], skip_special_tokens=True)] * 4  # a tiny temperature: greedy
    wait_for(lambda: UsageRecord.objects.filter(status="ok").count() == 5)
    assert ledger.audit_ledger().ok


@pytest.fixture
def broken(live_server, provider, checkpoint_copy):
    """alice/broken-gpt: the tiny checkpoint with NaN weights, published (every generation fails in the engine)."""
    from tests.conftest import commit_valid_checkpoint

    model = AutoModelForCausalLM.from_pretrained(checkpoint_copy)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    model.save_pretrained(checkpoint_copy)
    commit = commit_valid_checkpoint(provider, "broken-gpt", checkpoint_copy, context_length=128)
    listings.publish_now(model=commit.model, prompt_price="2", completion_price="6", title="Broken GPT")
    return commit


def test_a_generation_that_fails_is_an_error_never_a_finish_and_a_plain_call_is_not_charged(client, consumer, broken):
    with pytest.raises(openai.InternalServerError) as plain:
        client.completions.create(model="alice/broken-gpt", prompt="x", max_tokens=8)
    with pytest.raises(openai.APIError) as streamed:
        list(client.chat.completions.create(model="alice/broken-gpt", messages=[{"role": "user", "content": "x"}],
                                            max_tokens=8, stream=True))  # fmt: skip

    assert (plain.value.status_code, plain.value.code, plain.value.type) == (500, "generation_failed", "server_error")
    assert "NaN" in plain.value.message
    assert streamed.value.code == "generation_failed"  # the stream's error event, not a finish_reason
    wait_for(lambda: UsageRecord.objects.count() == 2)
    assert sorted(UsageRecord.objects.values_list("status", "cost")) == [("error", 0), ("error", 0)]
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0)
