"""No infer worker alive (issue #22, item 9): a call used to wait 125 s and then get 504. Now it is refused at
once with 503 and Retry-After, nothing held, and /status says why; a worker announces itself when it starts
(before any call) and is seen gone within seconds of dying."""

import signal

import openai
import pytest

from marketplace.models import AccountKind, Reservation
from marketplace.money import MICRO
from marketplace.services import ledger, listings
from serving import status
from tests.conftest import commit_valid_checkpoint, start_infer_worker_process, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def caller(live_server, provider, consumer, make_key, tiny_checkpoint):
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)
    listings.publish_now(model=commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    key = make_key(consumer, scopes=("infer",))
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, timeout=60)


def held(user) -> tuple[int, int]:
    wallet = ledger.account_for(user.pk, AccountKind.WALLET)
    return wallet.balance, wallet.held


def test_with_no_infer_worker_a_call_is_503_at_once_and_holds_nothing(caller, consumer, client):
    with pytest.raises(openai.InternalServerError) as refused:
        caller.completions.create(model="alice/tiny-gpt", prompt="def", max_tokens=4)

    assert refused.value.status_code == 503
    assert refused.value.response.headers["Retry-After"] == "5"
    assert refused.value.body["code"] == "no_worker"
    assert refused.value.body["message"] == (
        "No inference worker is running at the moment. Retry in a few seconds; nothing was charged.")  # fmt: skip
    assert Reservation.objects.count() == 0 and held(consumer) == (10 * MICRO, 0)
    page = client.get("/status").content.decode()
    assert "Calls cannot be served now: no inference worker is running." in page


def test_a_worker_is_seen_from_its_start_and_gone_within_seconds_of_dying(caller, consumer, client, tmp_path):
    worker = start_infer_worker_process(tmp_path / "infer.log", concurrency=2)  # back once /status sees it
    try:
        assert "Calls are being served: 1 inference worker running." in client.get("/status").content.decode()
        served = caller.completions.create(model="alice/tiny-gpt", prompt="def", max_tokens=4, temperature=0)
        assert served.choices[0].finish_reason in ("length", "stop")  # served (a random model may end early)
        assert 1 <= served.usage.completion_tokens <= 4
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        wait_until(lambda: not any(seen.is_alive for seen in status.infer_workers() or ()), timeout=10)
    finally:
        worker.kill()

    wait_until(lambda: Reservation.objects.count() == 0)  # the served call settled
    balance = held(consumer)
    with pytest.raises(openai.InternalServerError) as refused:
        caller.completions.create(model="alice/tiny-gpt", prompt="def", max_tokens=4)
    assert (refused.value.status_code, refused.value.body["code"]) == (503, "no_worker")
    assert Reservation.objects.count() == 0 and held(consumer) == balance
    assert "no inference worker is running" in client.get("/status").content.decode()
