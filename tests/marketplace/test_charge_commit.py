"""The hold commits lazily (synchronous_commit off) only in its own transaction, and never changes how later
transactions on the same connection commit."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import ApiKey
from marketplace.models import Account, AccountKind, Reservation
from marketplace.services import charge_pg, metering

pytestmark = pytest.mark.django_db(transaction=True)


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def hold_params(user, api_key, model, request_id):
    now = timezone.now()
    return {
        "request_id": request_id, "user_id": user.pk, "api_key_id": api_key.pk, "model_id": model.pk,
        "model_label": model.repo_id, "reserved_tokens": 1500, "created_at": now, "expires_at": now,
        "prompt_tokens": 1000, "max_tokens": 500, "spend_key": "",
    }  # fmt: skip


@pytest.fixture
def api_key(funded_consumer, make_key):
    make_key(funded_consumer, scopes=("read", "infer"))
    return ApiKey.objects.get(user=funded_consumer)


def test_an_authorize_on_its_own_leaves_the_connection_committing_durably(funded_consumer, api_key, listing):
    assert synchronous_commit() == "on"
    granted = metering.authorize(
        user=funded_consumer, api_key=api_key, model=listing.model, prompt_tokens=1000, max_tokens=500
    )
    assert synchronous_commit() == "on"
    assert (
        Reservation.objects.get(request_id=granted.request_id).max_cost == 5000
    )  # 0.002 + 0.003 credits, in micro-credits
    assert Account.objects.get(user=funded_consumer, kind=AccountKind.WALLET).held == granted.reservation.max_cost


def test_the_lazy_commit_lasts_for_the_holds_transaction_only(funded_consumer, api_key, listing):
    with transaction.atomic():
        row = charge_pg.authorize_pg(hold_params(funded_consumer, api_key, listing.model, "req_lazy"), lazy_commit=True)
        assert row["reservation_id"] is not None
        assert synchronous_commit() == "off"
    assert synchronous_commit() == "on"
    assert Reservation.objects.filter(request_id="req_lazy").count() == 1


def test_inside_a_callers_transaction_the_hold_keeps_its_durability(funded_consumer, api_key, listing):
    with transaction.atomic():
        row = charge_pg.authorize_pg(hold_params(funded_consumer, api_key, listing.model, "req_outer"))
        assert row["reservation_id"] is not None
        assert synchronous_commit() == "on"
