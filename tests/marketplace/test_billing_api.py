"""The wallet's JSON API: /api/v1/credits, /api/v1/usage and the payment webhook."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from marketplace.models import ConsumerUsageDaily, LedgerTransaction, Payment
from marketplace.money import MICRO
from marketplace.payments import TestPaymentProvider
from marketplace.services import ledger, metering

pytestmark = pytest.mark.django_db


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_credits_shows_balance_bought_and_spent(client, funded_consumer, make_key, listing):
    secret = make_key(funded_consumer, scopes=("infer",))
    granted = metering.authorize(
        user=funded_consumer, api_key=ApiKey.objects.get(user=funded_consumer), model=listing.model,
        prompt_tokens=1000, max_tokens=500,
    )  # fmt: skip
    metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=500)

    response = client.get("/api/v1/credits", **bearer(secret))

    assert response.status_code == 200
    assert response.json() == {"data": {"balance": "9.995000", "total_credits": "10.000000", "total_usage": "0.005000"}}


def test_credits_needs_a_key(client):
    response = client.get("/api/v1/credits")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def seed_usage(user, key_id):
    today = timezone.now().date()
    rows = [
        (today, key_id, "alice/tiny-gpt", 2, 300, 1000),
        (today, 0, "alice/tiny-gpt", 1, 100, 500),
        (today - dt.timedelta(days=1), key_id, "demo/pydoc-gpt", 4, 800, 0),
        (today - dt.timedelta(days=40), key_id, "alice/tiny-gpt", 9, 900, 9000),
    ]
    for day, key, model, requests, tokens, cost in rows:
        ConsumerUsageDaily.objects.create(
            day=day, user=user, key_id=key, model_label=model, requests=requests, prompt_tokens=tokens,
            completion_tokens=tokens // 2, cost=cost,
        )  # fmt: skip
    return today


def test_usage_by_day_covers_the_last_30_days_by_default(client, consumer, make_key):
    secret = make_key(consumer, scopes=("read",))
    today = seed_usage(consumer, ApiKey.objects.get(user=consumer).pk)

    body = client.get("/api/v1/usage", **bearer(secret)).json()

    assert (body["start"], body["end"], body["group_by"]) == (str(today - dt.timedelta(days=29)), str(today), "day")
    assert body["data"] == [
        {"day": str(today - dt.timedelta(days=1)), "requests": 4, "prompt_tokens": 800, "completion_tokens": 400,
         "cost": "0.000000"},
        {"day": str(today), "requests": 3, "prompt_tokens": 400, "completion_tokens": 200, "cost": "0.001500"},
    ]  # fmt: skip


def test_usage_by_model_and_by_key(client, consumer, make_key):
    secret = make_key(consumer, scopes=("read",))
    key_id = ApiKey.objects.get(user=consumer).pk
    today = seed_usage(consumer, key_id)
    start = str(today - dt.timedelta(days=60))

    by_model = client.get(f"/api/v1/usage?group_by=model&start={start}", **bearer(secret)).json()["data"]
    by_key = client.get(f"/api/v1/usage?group_by=key&start={start}", **bearer(secret)).json()["data"]

    assert [(row["model"], row["requests"], row["cost"]) for row in by_model] == [
        ("alice/tiny-gpt", 12, "0.010500"),
        ("demo/pydoc-gpt", 4, "0.000000"),
    ]
    assert [(row["key_id"], row["key_name"], row["requests"]) for row in by_key] == [
        (key_id, "test", 15),
        (0, "browser session", 1),
    ]


@pytest.mark.parametrize(
    ("query", "param"),
    [("group_by=week", "group_by"), ("start=yesterday", "start"), ("start=2026-02-01&end=2026-01-01", "start"),
     ("start=2020-01-01&end=2026-01-01", "start"), ("end=2026-13-01", "end")],
)  # fmt: skip
def test_usage_refuses_bad_parameters(client, consumer, make_key, query, param):
    secret = make_key(consumer, scopes=("read",))
    response = client.get(f"/api/v1/usage?{query}", **bearer(secret))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_usage_shows_only_the_callers_own(client, consumer, outsider, make_key):
    seed_usage(consumer, 12345)
    secret = make_key(outsider, scopes=("read",))
    assert client.get("/api/v1/usage?group_by=model", **bearer(secret)).json()["data"] == []


def webhook(client, payload, signature=None):
    body = json.dumps(payload).encode()
    return client.post(
        "/api/payments/test/webhook", body, content_type="application/json",
        HTTP_X_SIGNATURE=signature if signature is not None else TestPaymentProvider.sign(body),
    )  # fmt: skip


def test_the_same_payment_webhook_twice_credits_once(client, consumer):
    payload = {"payment_id": "pi_1", "username": "bob", "amount": "7.5"}

    first, again = webhook(client, payload), webhook(client, payload)

    assert (first.status_code, first.json()) == (200, {"payment_id": "pi_1", "amount": "7.500000", "credited": True})
    assert (again.status_code, again.json()["credited"]) == (200, False)
    assert ledger.credit_summary(user=consumer).balance == 7_500_000
    assert Payment.objects.count() == 1 and LedgerTransaction.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "signature", "status"),
    [
        ({"payment_id": "pi_2", "username": "bob", "amount": "5"}, "forged", 401),
        ({"payment_id": "pi_3", "username": "bob", "amount": "0"}, None, 400),
        ({"payment_id": "pi_4", "username": "bob", "amount": "-5"}, None, 400),
        ({"payment_id": "pi_5", "username": "nobody", "amount": "5"}, None, 400),
        ({"payment_id": "pi_6", "username": "bob"}, None, 400),
    ],
)
def test_bad_webhooks_are_refused_and_credit_nothing(client, consumer, payload, signature, status):
    response = webhook(client, payload, signature)

    assert response.status_code == status
    assert "error" in response.json()
    assert Payment.objects.count() == 0 and LedgerTransaction.objects.count() == 0


def test_test_provider_checkout_credits_at_once(consumer):
    from marketplace.payments import provider

    checkout = provider().start_checkout(user=consumer, amount=3 * MICRO)

    assert checkout.redirect_url is None and checkout.payment_id.startswith("test_")
    assert ledger.credit_summary(user=consumer).balance == 3 * MICRO


@pytest.mark.parametrize(("group_by", "queries"), [("day", 2), ("model", 2), ("key", 3)])
def test_usage_reads_only_the_rollups_in_a_fixed_number_of_queries(
    client, consumer, make_key, django_assert_num_queries, group_by, queries
):
    secret = make_key(consumer, scopes=("read",))
    seed_usage(consumer, ApiKey.objects.get(user=consumer).pk)
    client.get("/api/v1/credits", **bearer(secret))  # the key's last-used time is now fresh

    # the key with its user, then the rollups (and the key names when grouped by key)
    with django_assert_num_queries(queries):
        assert client.get(f"/api/v1/usage?group_by={group_by}", **bearer(secret)).status_code == 200


def test_earnings_by_day_model_and_revision(client, provider, consumer, make_key):
    from marketplace.models import ProviderEarningsDaily

    today = timezone.now().date()
    for day, label, sha, requests, gross in ((today, "alice/a", "1" * 40, 2, 1000), (today, "alice/a", "2" * 40, 1, 500),
                                             (today - dt.timedelta(days=1), "alice/b", "3" * 40, 4, 2000),
                                             (today - dt.timedelta(days=40), "alice/a", "1" * 40, 9, 9000)):  # fmt: skip
        ProviderEarningsDaily.objects.create(day=day, provider=provider, model_label=label, commit_sha=sha,
                                             requests=requests, prompt_tokens=10 * requests, completion_tokens=requests,
                                             gross=gross, earnings=gross * 4 // 5, fee=gross // 5)  # fmt: skip
    ProviderEarningsDaily.objects.create(day=today, provider=consumer, model_label="bob/c", commit_sha="4" * 40,
                                         requests=7, gross=7)  # someone else's  # fmt: skip
    auth = bearer(make_key(provider, scopes=("read",)))

    by_model = client.get("/api/v1/earnings?group_by=model", **auth).json()
    by_revision = client.get("/api/v1/earnings?group_by=revision", **auth).json()
    by_day = client.get(f"/api/v1/earnings?start={today}&end={today}", **auth).json()

    assert by_model["data"] == [
        {"model": "alice/a", "requests": 3, "prompt_tokens": 30, "completion_tokens": 3, "gross": "0.001500",
         "earnings": "0.001200", "fee": "0.000300"},
        {"model": "alice/b", "requests": 4, "prompt_tokens": 40, "completion_tokens": 4, "gross": "0.002000",
         "earnings": "0.001600", "fee": "0.000400"},
    ]  # fmt: skip
    assert by_model["totals"] == {"requests": 7, "prompt_tokens": 70, "completion_tokens": 7, "gross": "0.003500",
                                  "earnings": "0.002800", "fee": "0.000700"}  # fmt: skip
    assert [(row["model"], row["revision"], row["requests"]) for row in by_revision["data"]] == [
        ("alice/a", "1" * 40, 2), ("alice/a", "2" * 40, 1), ("alice/b", "3" * 40, 4)]  # fmt: skip
    assert [(row["day"], row["requests"]) for row in by_day["data"]] == [(str(today), 3)]
    assert (by_day["balance"], by_day["payouts"]) == ("0.000000", [])


def test_earnings_refuses_bad_parameters_and_keys_without_read(client, provider, make_key):
    bad = client.get("/api/v1/earnings?group_by=key", **bearer(make_key(provider, scopes=("read",))))
    unscoped = client.get("/api/v1/earnings", **bearer(make_key(provider, scopes=("infer",))))

    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "group_by")
    assert unscoped.status_code == 403
