"""The model page's playground in a real browser: tokens stream into the page from a real infer worker, time to
first token and tokens per second are shown, the consumer's credits pay and the owner calls free; the snippets are
pinned to the commit shown."""

import re

import pytest
from transformers import AutoTokenizer

from marketplace.models import UsageRecord
from marketplace.money import MICRO, token_cost
from marketplace.services import ledger, listings
from tests.conftest import greedy, wait_until
from tests.e2e.conftest import log_in, menu

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def greedy_text(checkpoint, prompt: str, max_tokens: int) -> str:
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    return tokenizer.decode(greedy(checkpoint, tokenizer(prompt)["input_ids"], max_tokens), skip_special_tokens=True)


def as_shown(text: str) -> str:
    """The answer as the playground shows it: without the blank lines it starts with (issue #23)."""
    return re.sub(r"^\s*\n", "", text)


def run_in_playground(page, *, mode: str, text: str, max_tokens: int) -> str:
    page.select_option("#pg-mode", mode)
    page.fill("#pg-prompt", text)
    page.fill("#pg-max-tokens", str(max_tokens))
    page.fill("#pg-temperature", "0")
    page.click("#pg-run")
    page.wait_for_selector("#pg-stats[data-done=true]")
    assert page.inner_text("#pg-error") == ""
    return page.inner_text("#pg-output")


def test_the_playground_streams_shows_its_speed_and_charges_the_caller(
    page, live_server, provider, consumer, served_commit, tiny_checkpoint, infer_worker
):
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    base = live_server.url

    log_in(page, base, "bob")
    page.goto(f"{base}/alice/tiny-gpt")
    output = run_in_playground(page, mode="completion", text="def main():", max_tokens=6)

    assert output == as_shown(greedy_text(tiny_checkpoint, "def main():", 6))
    stats = page.inner_text("#pg-stats")
    assert "time to first token" in stats and "tokens/s over the whole call" in stats and "6 tokens" in stats
    shown = page.eval_on_selector("#pg-stats", "el => ({...el.dataset})")
    # over the whole call, as the catalogue measures: never faster than the tokens over the wait for the first
    # (from the first token on, a burst showed 4,200 tokens/s of a model measured at 13; issue #23)
    bound = int(shown["tokens"]) * 1000 / max(int(shown["ttftMs"]) - 1, 1) + 0.05  # ttft is rounded to the ms
    assert 0 < float(shown["rate"]) <= bound, shown
    wait_until(lambda: UsageRecord.objects.filter(user=consumer).exists())  # settled after the last byte
    record = UsageRecord.objects.get(user=consumer)
    assert (record.api_key_id, record.commit_sha, record.completion_tokens) == (None, served_commit.sha, 6)
    assert record.cost == token_cost(prompt_tokens=record.prompt_tokens, completion_tokens=6,
                                     prompt_price=2 * MICRO, completion_price=6 * MICRO) > 0  # fmt: skip
    assert ledger.account_for(consumer.pk, "wallet").balance == 10 * MICRO - record.cost
    pinned = f"alice/tiny-gpt@{served_commit.sha}"
    assert f'model="{pinned}"' in page.inner_text("#snippet-openai")
    assert f'"model": "{pinned}"' in page.inner_text("#snippet-curl")
    assert "for calls only" in page.inner_text("#snippet-transformers")  # the listing does not offer the weights
    menu(page, "Log out")

    log_in(page, base, "alice")
    page.goto(f"{base}/alice/tiny-gpt")
    answer = run_in_playground(page, mode="chat", text="Hello", max_tokens=4)

    assert answer == as_shown(greedy_text(tiny_checkpoint, "user: Hello\nassistant:", 4))
    wait_until(lambda: UsageRecord.objects.filter(user=provider).exists())
    assert UsageRecord.objects.get(user=provider).cost == 0  # the owner calls free
    assert f'revision = "alice/tiny-gpt", "{served_commit.sha}"' in page.inner_text("#snippet-transformers")
