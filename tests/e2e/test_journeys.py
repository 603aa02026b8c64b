"""Whole journeys in a real browser, as the issue tells them: a consumer's, a provider's and a moderator's.
Screenshots of their key pages go to var/screenshots/."""

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import ApiKey, User
from marketplace.models import Review
from marketplace.money import MICRO
from marketplace.services import ledger, listing_stats, listings, metering
from tests.conftest import PASSWORD, wait_until
from tests.e2e.conftest import log_in, menu, publish_after_evaluation, shoot, sign_up
from tests.e2e.test_portal import create_and_upload
from tests.marketplace.conftest import publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_consumers_journey(page, live_server, provider, outsider, served_commit, infer_worker, settings,
                             console_errors):  # fmt: skip
    """Search, filter by price, open the model page, sign up, create a key, top up with the test payment provider,
    get an answer from the playground (a real infer worker), see today's spend in the dashboard's chart table, and
    review the model."""
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
    page.wait_for_url(f"{base}/signup")
    sign_up(page, base, "carol")
    menu(page, "API keys")
    page.fill("#id_name", "laptop")
    page.click("main form button[type=submit]:has-text('Create key')")
    expect(page.locator("#new-key")).to_contain_text("gpts_")
    menu(page, "Wallet")
    page.fill("#id_amount", "5")
    page.click("main form button[type=submit]")
    page.wait_for_selector("text=Added 5 credits")

    page.goto(f"{base}/alice/tiny-gpt")
    page.select_option("#pg-mode", "completion")
    page.fill("#pg-prompt", "def main():")
    page.fill("#pg-max-tokens", "6")
    page.fill("#pg-temperature", "0")  # greedy: the random-weight test model sampled at 0.7 may end at once
    page.click("#pg-run")
    page.wait_for_selector("#pg-stats[data-done=true]")
    assert page.inner_text("#pg-error") == "" and page.inner_text("#pg-output").strip() != ""
    expect(page.locator("#pg-stats")).to_contain_text("6 tokens (")
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


def test_a_providers_journey(page, live_server, consumer, celery_worker, tiny_checkpoint, make_key, settings):
    """Sign up, create a model, upload a checkpoint with progress, see the validation report, price and publish,
    be found by search, and after a consumer's calls see the earnings on the dashboard and in /api/v1/earnings."""
    settings.REVIEW_LISTINGS = False
    base = live_server.url
    sign_up(page, base, "frank")
    page.click("text=New model")
    create_and_upload(page, base, "frank/verse-gpt", tiny_checkpoint)
    assert page.inner_text("#progress-text") == "100%"
    page.click("#commit-link")
    page.wait_for_selector("#validation.status-valid", timeout=120_000)
    page.wait_for_selector("#validation .report dd")
    assert "141k (141,056)" in page.inner_text("#validation .report")
    shoot(page, "journey-provider-validated")

    publish_after_evaluation(page, "Verse GPT", "100", "300", summary="Writes verse about Python.")
    page.goto(f"{base}/models?q=verse")
    expect(page.locator(".listing-card h3")).to_have_text(["Verse GPT"])

    ledger.top_up(user=consumer, amount=5 * MICRO)
    make_key(consumer, scopes=("infer",))
    model = User.objects.get(username="frank").models.get()
    granted = metering.authorize(user=consumer, api_key=ApiKey.objects.get(user=consumer), model=model,
                                 prompt_tokens=1000, max_tokens=1000)  # fmt: skip
    metering.settle(request_id=granted.request_id, prompt_tokens=1000, completion_tokens=1000)  # 0.4 credits

    page.goto(f"{base}/settings/earnings")
    assert page.inner_text("[data-testid=earnings-balance]") == "0.32"  # 0.4 minus the 20 % fee
    expect(page.locator("#top-consumers tbody tr")).to_have_count(1)
    shoot(page, "journey-provider-earnings")
    frank_key = make_key(User.objects.get(username="frank"), scopes=("read",))
    earned = requests.get(f"{base}/api/v1/earnings?group_by=model", headers={"Authorization": f"Bearer {frank_key}"},
                          timeout=10).json()  # fmt: skip
    assert earned["data"][0]["model"] == "frank/verse-gpt" and earned["totals"]["earnings"] == "0.320000"


def test_a_moderators_journey(page, live_server, provider, consumer, served_commit, make_key, settings):
    """A consumer reports a listing; a moderator suspends it in the admin with a reason; it is gone from search,
    /v1 refuses it, and the provider reads the reason."""
    settings.REVIEW_LISTINGS = False
    listings.publish_now(model=served_commit.model, prompt_price="1", completion_price="1", title="Tiny GPT")
    get_user_model().objects.create_superuser(username="mod", password=PASSWORD, email="mod@example.com")
    base = live_server.url

    log_in(page, base, "bob")
    page.goto(f"{base}/alice/tiny-gpt")
    page.click("text=Report this listing")
    page.select_option("#report-reason", "harmful")
    page.fill("#report-text", "It insults people.")
    page.click("text=Send report")
    page.wait_for_selector("text=the moderators will look at your report")
    menu(page, "Log out")

    log_in(page, base, "mod")
    page.goto(f"{base}/admin/marketplace/listingreport/")
    page.click("table#result_list tbody tr a")
    page.fill("#id_resolution", "Insults in its samples.")
    page.select_option("#id_decision", "suspend")
    page.click("input[name=_save]")
    shoot(page, "journey-moderator-queue")
    page.click("text=Log out")  # the admin's own header

    page.goto(f"{base}/models?q=tiny")
    expect(page.locator(".listing-card")).to_have_count(0)
    refused = requests.post(f"{base}/v1/completions", json={"model": "alice/tiny-gpt", "prompt": "x", "max_tokens": 1},
                            headers={"Authorization": f"Bearer {make_key(consumer, scopes=('infer',))}"}, timeout=10)  # fmt: skip
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "model_not_found")
    log_in(page, base, "alice")
    page.goto(f"{base}/settings/earnings")
    expect(page.locator(".review-note")).to_have_text("Reason: Insults in its samples.")
