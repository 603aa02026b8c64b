"""An infer worker process killed mid-request: the caller gets a clear error within seconds (not the timeout),
is charged only for the tokens it received, and the next call, served by the restarted worker, succeeds."""

import signal

import openai
import pytest

from marketplace.models import AccountKind, UsageRecord, UsageStatus
from marketplace.money import MICRO, token_cost
from marketplace.services import ledger, listings
from tests.conftest import commit_valid_checkpoint, start_infer_worker_process, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def slow_checkpoint(tmp_path_factory):
    """Big enough that 900 greedy tokens take seconds on a CPU (~4 s with transformers here), so the worker is
    surely killed mid-generation; it never makes its end-of-text token in those 900."""
    from engine.pretrain import GPTShape, build_gpt2, pretrain_corpus_sample, save_checkpoint, train_tokenizer

    tokenizer = train_tokenizer(pretrain_corpus_sample(), vocab_size=512)
    model = build_gpt2(tokenizer, GPTShape(n_layer=4, n_head=4, n_embd=256, n_positions=1024))
    return save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("slow") / "ckpt")


def test_a_worker_killed_mid_stream_ends_the_call_clearly_and_the_next_call_succeeds(
    live_server, provider, consumer, make_key, slow_checkpoint, tmp_path, settings
):
    settings.INFER_TIMEOUT_SECONDS = 120  # a timeout would say "timeout": the error must come from the heartbeat
    commit = commit_valid_checkpoint(provider, "slow-gpt", slow_checkpoint, context_length=1024)
    listings.publish_now(model=commit.model, prompt_price="2", completion_price="6", title="Slow GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    client = openai.OpenAI(
        base_url=f"{live_server.url}/v1", api_key=make_key(consumer, scopes=("infer",)), max_retries=0, timeout=120
    )
    log = tmp_path / "worker.log"
    worker = start_infer_worker_process(log)
    try:
        stream = client.completions.create(
            model="alice/slow-gpt", prompt="def main():", max_tokens=900, temperature=0, stream=True
        )
        received = [next(iter(stream)).choices[0].text]  # the worker has loaded the model and is generating
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        with pytest.raises(openai.APIError) as failure:
            received.extend(chunk.choices[0].text for chunk in stream)
    finally:
        worker.kill()
        worker.wait(timeout=30)

    assert failure.value.body["code"] == "worker_lost", failure.value.body
    assert failure.value.body["type"] == "server_error"
    record = UsageRecord.objects.get(model_label="alice/slow-gpt")
    assert record.status == UsageStatus.ERROR
    assert len(received) <= record.completion_tokens < 900
    assert record.cost == token_cost(prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens,
                                     prompt_price=2 * MICRO, completion_price=6 * MICRO)  # fmt: skip
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO - record.cost, 0)

    restarted = start_infer_worker_process(log)
    try:
        completion = client.completions.create(
            model="alice/slow-gpt", prompt="def main():", max_tokens=5, temperature=0
        )
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    assert completion.usage.completion_tokens == 5
    assert completion.choices[0].finish_reason == "length"
    text, streamed = completion.choices[0].text, "".join(received)
    assert text.startswith(streamed) or streamed.startswith(text)  # both greedy from the same prompt
    wait_until(lambda: UsageRecord.objects.filter(model_label="alice/slow-gpt", status=UsageStatus.OK).count() == 1)
    assert ledger.audit_ledger().ok
