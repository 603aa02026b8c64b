"""Authorize -> settle / release: holds, charges, fees, rate limits, spend caps, idempotency."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from core.exceptions import InvalidInput, PermissionDenied, RateLimited, ServiceUnavailable
from marketplace.exceptions import InsufficientQuota, ModelNotFound
from marketplace.models import (
    Account,
    AccountKind,
    ConsumerUsageDaily,
    LedgerTransaction,
    ProviderEarningsDaily,
    Reservation,
    UsageRecord,
)
from marketplace.money import MICRO
from marketplace.services import ledger, listings, metering
from registry import services as registry
from registry.models import ValidationStatus
from tests.marketplace.conftest import add_commit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["one_statement", "portable"])
def charging_path(request, settings):
    """Every test runs against both ways of charging: one prepared statement per step (PostgreSQL) and the
    portable statements that SQLite uses."""
    settings.CHARGE_IN_ONE_STATEMENT = request.param == "one_statement"
    return request.param


def wallet(user):
    account = ledger.account_for(user.pk, AccountKind.WALLET)
    return account.balance, account.held


def key_of(make_key, user, **limits):
    make_key(user, scopes=("read", "infer"))
    api_key = ApiKey.objects.get(user=user)
    if limits:
        ApiKey.objects.filter(pk=api_key.pk).update(**limits)
        api_key.refresh_from_db()
    return api_key


def call(user, api_key, model, *, prompt=1000, max_tokens=500, **kwargs):
    return metering.authorize(
        user=user, api_key=api_key, model=model, prompt_tokens=prompt, max_tokens=max_tokens, **kwargs
    )


def test_authorize_holds_the_maximum_and_settle_charges_the_real_cost(funded_consumer, make_key, listing, provider):
    api_key = key_of(make_key, funded_consumer)

    granted = call(funded_consumer, api_key, listing.model)
    # max: 1,000 prompt x 2 + 500 completion x 6 credits per 1M = 5,000 µc
    assert granted.reservation.max_cost == 5000
    assert wallet(funded_consumer) == (10 * MICRO, 5000)
    assert granted.commit_sha == listing.model.commits.get().sha

    record = metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=100, latency_ms=42)

    # real: 1,000 x 2 + 100 x 6 = 2,600 µc; 20% fee = 520 µc; provider 2,080 µc
    assert (record.cost, record.fee, record.prompt_tokens, record.completion_tokens) == (2600, 520, 1000, 100)
    assert wallet(funded_consumer) == (10 * MICRO - 2600, 0)
    assert ledger.account_for(provider.pk, AccountKind.EARNINGS).balance == 2080
    assert ledger.account_for(None, AccountKind.PLATFORM_FEES).balance == 520
    assert sorted(record.transaction.entries.values_list("amount", flat=True)) == [-2600, 520, 2080]
    assert Reservation.objects.count() == 0  # a settled call holds nothing
    assert ledger.audit_ledger().ok


def test_settling_twice_charges_once(funded_consumer, make_key, listing):
    granted = call(funded_consumer, key_of(make_key, funded_consumer), listing.model)

    first = metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=500)
    second = metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=500)

    assert first.pk == second.pk
    assert UsageRecord.objects.count() == 1 and LedgerTransaction.objects.filter(kind="charge").count() == 1
    assert wallet(funded_consumer) == (10 * MICRO - 5000, 0)


def test_settle_never_charges_more_than_was_held(funded_consumer, make_key, listing):
    granted = call(funded_consumer, key_of(make_key, funded_consumer), listing.model, max_tokens=10)

    record = metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=9999)

    assert record.cost == granted.reservation.max_cost == 2060


def test_release_gives_back_the_whole_hold(funded_consumer, make_key, listing):
    granted = call(funded_consumer, key_of(make_key, funded_consumer), listing.model)

    record = metering.release(request_id=granted.request_id)

    assert (record.cost, record.status) == (0, "error")
    assert wallet(funded_consumer) == (10 * MICRO, 0)
    assert Reservation.objects.count() == 0
    assert LedgerTransaction.objects.filter(kind="charge").count() == 0
    assert ledger.audit_ledger().ok


def test_stale_reservations_are_voided_by_the_periodic_task(funded_consumer, make_key, listing):
    granted = call(funded_consumer, key_of(make_key, funded_consumer), listing.model)
    Reservation.objects.filter(pk=granted.reservation.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert metering.void_stale_reservations() == 1
    assert metering.void_stale_reservations() == 0
    assert UsageRecord.objects.get().status == "expired"
    # a late settle charges nothing and answers with the record of the expiry
    late = metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=500)
    assert (late.status, late.cost) == ("expired", 0)
    assert wallet(funded_consumer) == (10 * MICRO, 0)
    assert ledger.audit_ledger().ok


def test_the_owner_calls_free(provider, make_key, listing):
    api_key = key_of(make_key, provider)

    granted = call(provider, api_key, listing.model)
    record = metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=500)

    assert (granted.reservation.max_cost, record.cost, record.transaction) == (0, 0, None)
    assert LedgerTransaction.objects.count() == 0
    assert ProviderEarningsDaily.objects.count() == 0


def test_the_owner_may_call_an_unlisted_model(provider, provider_model, make_key):
    granted = call(provider, key_of(make_key, provider), provider_model)

    assert granted.listing_id is None and granted.reservation.max_cost == 0


def test_others_cannot_call_an_unlisted_or_private_model(consumer, provider_model, make_key):
    api_key = key_of(make_key, consumer)

    with pytest.raises(ModelNotFound) as caught:
        call(consumer, api_key, provider_model)
    assert (caught.value.status_code, caught.value.code) == (404, "model_not_found")
    registry.set_visibility(model_id=provider_model.pk, is_private=True)
    with pytest.raises(ModelNotFound):
        call(consumer, api_key, provider_model)
    assert Reservation.objects.count() == 0


def test_a_listing_made_private_after_publishing_is_not_callable(funded_consumer, make_key, listing):
    registry.set_visibility(model_id=listing.model_id, is_private=True)

    with pytest.raises(ModelNotFound):
        call(funded_consumer, key_of(make_key, funded_consumer), listing.model)


def test_a_key_without_the_infer_scope_is_refused(funded_consumer, make_key, listing):
    make_key(funded_consumer, scopes=("read",))

    with pytest.raises(PermissionDenied):
        call(funded_consumer, ApiKey.objects.get(user=funded_consumer), listing.model)
    assert wallet(funded_consumer) == (10 * MICRO, 0) and Reservation.objects.count() == 0


def test_out_of_credit_is_insufficient_quota_and_takes_nothing(consumer, make_key, listing):
    ledger.top_up(user=consumer, amount=4999)
    api_key = key_of(make_key, consumer)

    with pytest.raises(InsufficientQuota) as caught:
        call(consumer, api_key, listing.model)

    assert (caught.value.status_code, caught.value.error_type) == (429, "insufficient_quota")
    assert caught.value.headers == {"x-should-retry": "false"}
    assert wallet(consumer) == (4999, 0) and Reservation.objects.count() == 0
    # the refused call did not use up the request bucket
    assert call(consumer, api_key, listing.model, max_tokens=499).rate.remaining_requests == 599


def test_requests_per_minute_limit_answers_429_with_headers(funded_consumer, make_key, listing):
    api_key = key_of(make_key, funded_consumer, rpm_limit=3, tpm_limit=100_000)
    for _ in range(3):
        call(funded_consumer, api_key, listing.model, prompt=10, max_tokens=2000)

    with pytest.raises(RateLimited) as caught:
        call(funded_consumer, api_key, listing.model, prompt=10, max_tokens=2000)

    error = caught.value
    assert (error.status_code, error.code, error.error_type) == (429, "rate_limit_exceeded", "requests")
    assert error.headers["x-ratelimit-limit-requests"] == "3"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.headers["x-ratelimit-limit-tokens"] == "100000"
    # 3 x 2,010 tokens taken; the bucket refills 100,000 per minute, so some may have come back already (all of
    # them only after 3.6 s, which a loaded machine can take between calls with fewer tokens)
    assert 100_000 - 3 * 2010 <= int(error.headers["x-ratelimit-remaining-tokens"]) < 100_000
    assert 1 <= int(error.headers["Retry-After"]) <= 20
    assert Reservation.objects.count() == 3


def test_tokens_per_minute_limit_and_unused_tokens_come_back(funded_consumer, make_key, listing):
    api_key = key_of(make_key, funded_consumer, tpm_limit=1000)
    granted = call(funded_consumer, api_key, listing.model, prompt=100, max_tokens=800)
    assert granted.rate.remaining_tokens == 100

    with pytest.raises(RateLimited) as caught:
        call(funded_consumer, api_key, listing.model, prompt=100, max_tokens=100)
    assert caught.value.error_type == "tokens"

    metering.settle(request_id=granted.request_id, prompt_tokens=100, completion_tokens=50)  # 750 unused
    assert call(funded_consumer, api_key, listing.model, prompt=100, max_tokens=100).rate.remaining_tokens >= 650


def test_a_request_larger_than_the_token_limit_is_refused_for_good(funded_consumer, make_key, listing):
    api_key = key_of(make_key, funded_consumer, tpm_limit=1000)

    with pytest.raises(RateLimited, match="Request too large") as caught:
        call(funded_consumer, api_key, listing.model, prompt=600, max_tokens=600)
    assert caught.value.headers["x-should-retry"] == "false"


def test_spend_cap_refuses_what_would_pass_it_and_counts_real_cost(funded_consumer, make_key, listing):
    api_key = key_of(make_key, funded_consumer, spend_limit=12_000, spend_period="day")
    first = call(funded_consumer, api_key, listing.model)  # holds 5,000 of the cap
    second = call(funded_consumer, api_key, listing.model)  # 10,000
    with pytest.raises(InsufficientQuota, match=r"spend limit of 0\.012000"):
        call(funded_consumer, api_key, listing.model)

    metering.settle(request_id=first.request_id, prompt_tokens=1000, completion_tokens=0)  # costs 2,000
    metering.release(request_id=second.request_id)  # costs 0

    # 2,000 spent: 10,000 of the cap is left, so two more 5,000 calls fit and a third does not
    call(funded_consumer, api_key, listing.model)
    call(funded_consumer, api_key, listing.model)
    with pytest.raises(InsufficientQuota):
        call(funded_consumer, api_key, listing.model)


def test_spend_counter_is_rebuilt_from_the_database_when_redis_lost_it(funded_consumer, make_key, listing):
    from marketplace.services import limits

    api_key = key_of(make_key, funded_consumer, spend_limit=12_000, spend_period="month")
    settled = call(funded_consumer, api_key, listing.model)
    metering.settle(request_id=settled.request_id, prompt_tokens=1000, completion_tokens=500)  # 5,000
    call(funded_consumer, api_key, listing.model)  # 5,000 held
    limits.client().flushdb()  # Redis restarted without its data

    with pytest.raises(InsufficientQuota):
        call(funded_consumer, api_key, listing.model)  # 10,000 + 5,000 > 12,000
    assert call(funded_consumer, api_key, listing.model, max_tokens=0).reservation.max_cost == 2000  # fits exactly


def test_a_pinned_invalid_revision_cannot_be_called(provider, provider_model, make_key):
    bad = add_commit(
        provider_model, status=ValidationStatus.INVALID, parent=provider_model.commits.first(), message="x"
    )

    with pytest.raises(InvalidInput, match="is invalid"):
        call(provider, key_of(make_key, provider), provider_model, revision=bad.sha)


def test_a_listing_on_a_branch_serves_its_newest_valid_commit(funded_consumer, make_key, listing):
    good = listing.model.commits.get()
    add_commit(listing.model, status=ValidationStatus.PENDING, parent=good, message="new upload")

    granted = call(funded_consumer, key_of(make_key, funded_consumer), listing.model)

    assert (granted.commit_id, granted.commit_sha) == (good.pk, good.sha)


def test_rollups_add_up_per_day_key_and_model(funded_consumer, make_key, listing, provider):
    api_key = key_of(make_key, funded_consumer)
    for completion in (100, 200):
        granted = call(funded_consumer, api_key, listing.model)
        metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=completion)

    consumer_row = ConsumerUsageDaily.objects.get()
    assert (consumer_row.key_id, consumer_row.model_label, consumer_row.requests) == (api_key.pk, "alice/tiny-gpt", 2)
    assert (consumer_row.prompt_tokens, consumer_row.completion_tokens, consumer_row.cost) == (2000, 300, 5800)
    provider_row = ProviderEarningsDaily.objects.get()
    assert (provider_row.provider_id, provider_row.requests, provider_row.gross) == (provider.pk, 2, 5800)
    assert (provider_row.earnings, provider_row.fee) == (4640, 1160)


def test_price_changes_apply_to_new_calls_only(funded_consumer, make_key, listing, provider):
    api_key = key_of(make_key, funded_consumer)
    before = call(funded_consumer, api_key, listing.model)
    listings.set_prices(listing=listing, by=provider, prompt_price="20", completion_price="60")
    after = call(funded_consumer, api_key, listing.model)

    assert (before.reservation.max_cost, after.reservation.max_cost) == (5000, 50000)
    assert metering.settle(request_id=before.request_id, prompt_tokens=1000, completion_tokens=500).cost == 5000
    assert Account.objects.get(user=funded_consumer, kind=AccountKind.WALLET).held == 50000


def test_redis_unreachable_is_503_and_nothing_is_held(funded_consumer, make_key, listing, settings):
    from marketplace.services import limits

    api_key = key_of(make_key, funded_consumer)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    limits.reset_clients()

    with pytest.raises(ServiceUnavailable) as caught:
        call(funded_consumer, api_key, listing.model)

    assert (caught.value.status_code, caught.value.headers["Retry-After"]) == (503, "1")
    assert wallet(funded_consumer) == (10 * MICRO, 0) and Reservation.objects.count() == 0
