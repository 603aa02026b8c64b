"""Inputs a second hostile probe sent that were accepted loosely or answered 500 (issue #22, items 6 and 7): /v1
fields now have OpenAI's types and limits, keys refuse what they do not take, and amounts are plain decimals
checked before any row holds them. Each refusal changes nothing."""

import json

import pytest

from accounts.models import ApiKey
from marketplace.models import AccountKind, LedgerTransaction, Payment, Reservation
from marketplace.money import MICRO
from marketplace.payments import TestPaymentProvider
from marketplace.services import ledger, listings

pytestmark = pytest.mark.django_db

HUGE = "x" * 100_000


def post(probe, key, path, body: dict):
    return probe.post(path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"stream": "true"}, "stream"), ({"stream": 1}, "stream"), ({"stream": True, "stream_options": "usage"},
      "stream_options"), ({"stream": True, "stream_options": []}, "stream_options"),
     ({"stream_options": {"include_usage": True}}, "stream_options"),
     ({"stream": True, "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
     ({"user": 5}, "user"), ({"user": HUGE}, "user"), ({"stop": ""}, "stop"), ({"stop": HUGE}, "stop"),
     ({"stop": ["a", ""]}, "stop"), ({"metadata": {"k": HUGE}}, "metadata"), ({"metadata": {"k": 1}}, "metadata"),
     ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"), ({"store": "yes"}, "store"),
     ({"service_tier": "gold"}, "service_tier")],
    ids=["stream-string", "stream-int", "options-string", "options-list", "options-without-stream",
         "include-usage-string", "user-int", "user-100k", "stop-empty", "stop-100k", "stop-list-empty",
         "metadata-100k", "metadata-int", "metadata-17", "store-string", "service-tier"],
)  # fmt: skip
def test_v1_fields_of_the_wrong_type_or_size_are_400(probe, funded_consumer, make_key, listing, extra, param):
    key = make_key(funded_consumer, scopes=("infer",))

    completion = post(probe, key, "/v1/completions", {"model": "alice/tiny-gpt", "prompt": "x", **extra})
    chat = post(probe, key, "/v1/chat/completions",
                {"model": "alice/tiny-gpt", "messages": [{"role": "user", "content": "x"}], **extra})  # fmt: skip

    for response in (completion, chat):
        assert response.status_code == 400, response.content[:300]
        assert (response.json()["error"]["type"], response.json()["error"]["param"]) == ("invalid_request_error", param)
    assert Reservation.objects.count() == 0
    wallet = ledger.account_for(funded_consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0)


@pytest.mark.parametrize(
    ("body", "param"),
    [({"name": 5, "scopes": ["read"]}, "name"), ({"name": "ci", "scopes": ["read"], "rpm_limit": -1}, "rpm_limit"),
     ({"name": "ci", "scopes": ["read"], "spend_limit": "NaN"}, "spend_limit"),
     ({"name": "ci\n", "scopes": ["read"]}, "name")],
)  # fmt: skip
def test_a_key_is_not_created_from_fields_it_does_not_take(probe, consumer, make_key, body, param):
    key = make_key(consumer)

    response = post(probe, key, "/api/keys", body)

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["param"] == param
    assert ApiKey.objects.count() == 1


def test_nan_is_not_json(probe, consumer, make_key):
    """Python's json reads NaN and Infinity, which JSON has not: `spend_limit: NaN` reached a serializer."""
    key = make_key(consumer)

    response = probe.post("/api/keys", '{"name": "ci", "scopes": ["read"], "spend_limit": NaN}',
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip

    assert response.status_code == 400
    assert "NaN is not a JSON number" in response.json()["error"]["message"]
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("amount", ["999999999999999999", "1e400", "1_000", "\u0661\u0662", "Infinity", "0x10"])
def test_a_top_up_out_of_range_or_not_a_plain_decimal_is_a_form_error(client, consumer, amount):
    client.force_login(consumer)

    response = client.post("/settings/wallet", {"amount": amount})

    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert Payment.objects.count() == 0 and LedgerTransaction.objects.count() == 0


@pytest.mark.parametrize("amount", ["999999999999999999", "1e400", 1e300])
def test_a_payment_webhook_over_the_limit_is_400_and_records_nothing(probe, consumer, amount):
    body = json.dumps({"payment_id": "pi_big", "username": "bob", "amount": amount}).encode()

    response = probe.post("/api/payments/test/webhook", body, content_type="application/json",
                          HTTP_X_SIGNATURE=TestPaymentProvider.sign(body))  # fmt: skip

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["param"] == "amount"
    assert Payment.objects.count() == 0 and LedgerTransaction.objects.count() == 0


@pytest.mark.parametrize("price", ["1_000", "\u0661", "1e3", " 1 000", "+inf"])
def test_listing_prices_are_plain_decimals(provider, provider_model, price):
    from core.exceptions import InvalidInput

    listing = listings.save_listing(model=provider_model, by=provider, title="Tiny")
    with pytest.raises(InvalidInput) as refused:
        listings.set_prices(listing=listing, by=provider, prompt_price=price, completion_price="1")

    assert refused.value.param == "prompt_price"
    assert listing.price_card is None
    assert (
        listings.set_prices(listing=listing, by=provider, prompt_price="1000", completion_price="1").prompt_price
        == 1000 * MICRO
    )
