"""Whole journeys in a real browser, as the issue tells them.

A consumer: search, filter by price, open the model page, sign up, create a key, top up with the test payment
provider, get an answer from the playground (a real infer worker), see today's spend on the dashboard's chart
table, and review the model. Screenshots of each step's page go to var/screenshots/."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from marketplace.models import Review
from marketplace.services import listing_stats, listings
from tests.conftest import wait_until
from tests.e2e.conftest import shoot
from tests.marketplace.conftest import publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_consumers_journey(page, live_server, provider, outsider, served_commit, infer_worker, settings,
                             console_errors):  # fmt: skip
    settings.REVIEW_LISTINGS = False
    listing = listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6",
                                   title="Tiny GPT")  # fmt: skip
    listings.save_listing(model=served_commit.model, by=provider, title="Tiny GPT", summary="A tiny GPT that "
                          "writes Python-ish text.", tags=["tiny"], license="mit")  # fmt: skip
    listing_stats.refresh_listing(listing)
    publish(outsider, "tiny-but-pricey", title="Tiny but pricey", prices=("50", "90"))
    base = live_server.url

    page.goto(f"{base}/")
    page.fill("#q", "tiny")
    page.press("#q", "Enter")
    expect(page.locator(".listing-card h3")).to_have_count(2)
    page.fill("#f-price", "10")
    page.click(".filters-panel button[type=submit]")
    expect(page.locator(".listing-card h3")).to_have_text(["Tiny GPT"])
    shoot(page, "journey-consumer-search")
    page.click("text=Tiny GPT")
    page.wait_for_url(f"{base}/alice/tiny-gpt")

    page.click("text=Sign up")
    page.fill("#id_username", "carol")
    page.fill("#id_password1", "a-long-password-1")
    page.fill("#id_password2", "a-long-password-1")
    page.click("main form button[type=submit]")
    page.click("text=API keys")
    page.fill("#id_name", "laptop")
    page.click("main form button[type=submit]:has-text('Create key')")
    expect(page.locator("#new-key")).to_contain_text("gpts_")
    page.click("header >> text=Wallet")
    page.fill("#id_amount", "5")
    page.click("main form button[type=submit]")
    page.wait_for_selector("text=Added 5 credits")

    page.goto(f"{base}/alice/tiny-gpt")
    page.select_option("#pg-mode", "completion")
    page.fill("#pg-prompt", "def main():")
    page.fill("#pg-max-tokens", "6")
    page.click("#pg-run")
    page.wait_for_selector("#pg-stats[data-done=true]")
    assert page.inner_text("#pg-error") == "" and page.inner_text("#pg-output").strip() != ""
    shoot(page, "journey-consumer-playground")

    today = timezone.now().date().isoformat()
    wait_until(lambda: page.goto(f"{base}/settings/usage") and float(
        page.get_attribute(f"td[data-day='{today}'] + td", "data-value")) > 0)  # fmt: skip
    shoot(page, "journey-consumer-usage")

    page.goto(f"{base}/alice/tiny-gpt")
    page.select_option("#review-rating", "5")
    page.fill("#review-text", "Answers at once, and cheap.")
    page.click("text=Publish review")
    expect(page.locator(".review")).to_contain_text("Answers at once, and cheap.")
    assert Review.objects.get().rating == 5
    expect(page.locator("#listing")).to_contain_text("★ 5.0 (1)")
    shoot(page, "journey-consumer-review")
    assert console_errors == []
