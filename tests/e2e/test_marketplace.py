"""The money side in a real browser: a provider prices and publishes a listing, a consumer buys credits, a call
is charged, and both see it on their pages."""

import pytest
from playwright.sync_api import expect

from accounts.models import ApiKey
from marketplace.services import metering
from registry import services as registry
from tests.e2e.conftest import list_and_publish, log_in, menu, shoot
from tests.marketplace.conftest import add_commit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_publish_top_up_call_and_see_usage_and_earnings(
    page, live_server, provider, consumer, make_key, settings, console_errors
):
    settings.REVIEW_LISTINGS = False
    model = registry.create_model(owner=provider, name="tiny-gpt")
    add_commit(model)
    base = live_server.url

    log_in(page, base, "alice")
    page.goto(f"{base}/alice/tiny-gpt")
    list_and_publish(page, "Tiny GPT", "100", "300")
    assert "published" in page.inner_text("#listing-status")
    menu(page, "Log out")

    log_in(page, base, "bob")
    menu(page, "Wallet")
    page.fill("#id_amount", "5")
    page.click("main form button[type=submit]")
    page.wait_for_selector("text=Added 5 credits")
    assert page.inner_text("[data-testid=balance]") == "5"

    make_key(consumer, scopes=("infer",))
    granted = metering.authorize(user=consumer, api_key=ApiKey.objects.get(user=consumer), model=model,
                                 prompt_tokens=1000, max_tokens=1000)  # fmt: skip
    metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=1000)  # 0.4 credits

    menu(page, "Wallet")
    assert page.inner_text("[data-testid=balance]") == "4.6"
    assert (page.inner_text("[data-testid=bought]"), page.inner_text("[data-testid=spent]")) == (
        "5 credits",
        "0.4 credits",
    )
    shoot(page, "wallet")
    menu(page, "Usage")
    row = page.inner_text("#usage tbody tr")
    assert row.split("\t") == ["alice/tiny-gpt", "1", "1000", "1000", "0.4"]
    assert page.locator("figure.chart td[data-day]").count() == 30  # the table behind the daily chart: 30 days
    expect(page.locator("figure.chart.drawn canvas")).to_have_count(2)  # Chart.js drew per day and per model
    shoot(page, "usage")
    menu(page, "Log out")

    log_in(page, base, "alice")
    menu(page, "Earnings")
    assert page.inner_text("[data-testid=earnings-balance]") == "0.32"  # 0.4 minus the 20% fee
    page.fill("#id_amount", "0.3")
    page.click("main form button[type=submit]:has-text('Request payout')")
    page.wait_for_selector("text=of 0.3 credits requested")
    assert page.inner_text("[data-testid=earnings-balance]") == "0.02"
    shoot(page, "earnings")
    menu(page, "API keys")
    shoot(page, "keys")
    assert console_errors == []  # no CSP violation, no script error
