"""A provider's chat template that loops must cost only its own calls (issue #10, finding 6): 16 such calls made
`GET /api/models` wait 47 s. Now each is refused within the render deadline and the web keeps answering."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

from marketplace.models import AccountKind, Reservation
from marketplace.money import MICRO
from marketplace.services import ledger, listings
from tests.conftest import commit_valid_checkpoint

pytestmark = pytest.mark.django_db(transaction=True)
LOOPING = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"


def test_calls_to_a_looping_template_are_refused_and_the_web_keeps_answering(
    live_server, provider, consumer, make_key, checkpoint_copy
):
    (checkpoint_copy / "chat_template.jinja").write_text(LOOPING)
    commit = commit_valid_checkpoint(provider, "loop-gpt", checkpoint_copy, context_length=128)
    listings.publish_now(model=commit.model, prompt_price="2", completion_price="6", title="Loop GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    headers = {"Authorization": f"Bearer {make_key(consumer, scopes=('infer', 'read'))}"}
    body = json.dumps({"model": "alice/loop-gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})

    def chat(_):
        return httpx.post(f"{live_server.url}/v1/chat/completions", content=body, timeout=120,
                          headers={**headers, "Content-Type": "application/json"})  # fmt: skip

    def list_models():
        started = time.monotonic()
        response = httpx.get(f"{live_server.url}/api/models", headers=headers, timeout=120)
        return response.status_code, time.monotonic() - started

    with ThreadPoolExecutor(17) as pool:
        chats = [pool.submit(chat, index) for index in range(16)]
        time.sleep(0.2)  # the renders are under way
        listed = pool.submit(list_models).result()
        answers = [future.result() for future in chats]

    assert listed[0] == 200 and listed[1] < 5
    assert {answer.status_code for answer in answers} == {400}
    assert "ran for more than 0.5 s" in answers[0].json()["error"]["message"]
    assert Reservation.objects.count() == 0
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0)
    assert ledger.audit_ledger().ok
