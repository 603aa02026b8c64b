"""Notifications: a listing approved, rejected or suspended (with the reason), a job that ended, and a low balance
(once a day) reach their user on the site, and by email when EMAIL_HOST is set; reading them clears the count."""

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Notification
from core import outbox
from core.models import OutboxEvent
from marketplace.models import ConsumerUsageDaily
from marketplace.money import MICRO
from marketplace.services import alerts, ledger, listings
from tests.conftest import PASSWORD
from tests.marketplace.conftest import submitted_listing

pytestmark = pytest.mark.django_db


def kinds(user) -> list[tuple[str, str]]:
    return list(Notification.objects.filter(user=user).order_by("pk").values_list("kind", "message"))


def test_listing_decisions_reach_the_provider(provider, provider_model, settings):
    settings.REVIEW_LISTINGS = True
    listing = submitted_listing(provider, provider_model, prompt_price="1", completion_price="1")
    listings.review_listing(listing_id=listing.pk, approve=False, reason="The card is empty.", by=provider)
    listings.review_listing(listing_id=listing.pk, approve=True, by=provider)
    listings.review_listing(listing_id=listing.pk, approve=False, reason="Reported as spam.", by=provider)

    assert kinds(provider) == [
        ("listing_suspended", "Your listing Tiny GPT (alice/tiny-gpt) was not approved: The card is empty."),
        ("listing_approved", "Your listing Tiny GPT (alice/tiny-gpt) is published."),
        ("listing_suspended", "Your listing Tiny GPT (alice/tiny-gpt) is suspended: Reported as spam."),
    ]
    assert mail.outbox == []  # no EMAIL_HOST: the site only


def test_email_when_configured(provider, provider_model, settings):
    settings.REVIEW_LISTINGS, settings.EMAIL_HOST, settings.SITE_URL = True, "smtp.example.com", "https://store.example"
    listing = submitted_listing(provider, provider_model, prompt_price="1", completion_price="1")
    listings.review_listing(listing_id=listing.pk, approve=True, by=provider)
    assert mail.outbox == []  # not inside the change: a worker sends it from the outbox
    assert list(OutboxEvent.objects.values_list("kind", flat=True)) == ["listing.published", "notification.email"]
    assert outbox.deliver_due() == 2

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "https://store.example/alice/tiny-gpt/listing" in mail.outbox[0].body


def test_low_balance_once_a_day(consumer, provider, settings):
    settings.LOW_BALANCE_CREDITS = 2
    ledger.top_up(user=consumer, amount=MICRO)  # 1 credit, under 2
    ledger.top_up(user=provider, amount=5 * MICRO)
    now = timezone.now()
    for user in (consumer, provider):
        ConsumerUsageDaily.objects.create(day=now.date(), user=user, model_label="x/y", requests=1)

    assert alerts.warn_low_balances(now=now) == 1
    assert alerts.warn_low_balances(now=now) == 0  # already told today
    assert kinds(consumer) == [("low_balance", "Your balance is 1 credits: calls stop when it runs out. Add credits.")]
    assert kinds(provider) == []


def test_the_header_counts_unread_and_the_page_clears_it(client, provider, provider_model, settings):
    settings.REVIEW_LISTINGS = True
    listing = submitted_listing(provider, provider_model, prompt_price="1", completion_price="1")
    listings.review_listing(listing_id=listing.pk, approve=True, by=provider)
    client.login(username="alice", password=PASSWORD)

    assert 'aria-label="1 unread">1</span>' in client.get("/settings/keys").content.decode()
    page = client.get("/settings/notifications").content.decode()
    assert "Your listing Tiny GPT (alice/tiny-gpt) is published." in page and 'href="/alice/tiny-gpt/listing"' in page
    assert "unread" not in client.get("/settings/keys").content.decode()
    assert Notification.objects.get().read_at is not None
