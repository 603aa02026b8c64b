"""Wallet, usage, key limits, earnings and listing pages, as a browser session uses them."""

import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from accounts import services as accounts
from accounts.models import ApiKey
from files import services as files
from marketplace.models import ConsumerUsageDaily, Listing, Payout, PriceCard, ProviderEarningsDaily
from marketplace.money import MICRO
from marketplace.services import ledger, listings
from marketplace.views.charts import daily_chart
from marketplace.views.provider import CHART_WORDS
from tests.conftest import PASSWORD
from tests.marketplace.conftest import publish
from tests.training.rows import fine_tuning_job

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_wallet_top_up_with_the_test_provider(consumer):
    client = logged_in(consumer)

    response = client.post("/settings/wallet", {"amount": "12.5"}, follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Added 12.5 credits" in page
    assert '<strong data-testid="balance"><span class="credits" title="12.500000 credits">12.5</span></strong>' in page
    assert ledger.credit_summary(user=consumer).balance == 12_500_000


@pytest.mark.parametrize("amount", ["0", "-4", "abc", "1.0000001", "99999999"])
def test_bad_top_ups_show_a_form_error_and_change_nothing(consumer, amount):
    response = logged_in(consumer).post("/settings/wallet", {"amount": amount})

    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert ledger.credit_summary(user=consumer).balance == 0


def test_wallet_forms_need_csrf(consumer):
    client = Client(enforce_csrf_checks=True)
    client.login(username="bob", password=PASSWORD)

    assert client.post("/settings/wallet", {"amount": "5"}).status_code == 403
    assert ledger.credit_summary(user=consumer).balance == 0


def test_pages_need_a_login(client):
    for url in ("/settings/wallet", "/settings/usage", "/settings/usage.csv", "/settings/earnings"):
        response = client.get(url)
        assert (response.status_code, response["Location"].split("?")[0]) == (302, "/login")


def test_usage_page_and_csv(consumer, make_key):
    make_key(consumer, scopes=("infer",))
    key = ApiKey.objects.get(user=consumer)
    today = timezone.now().date()
    ConsumerUsageDaily.objects.create(day=today, user=consumer, key_id=key.pk, model_label="alice/tiny-gpt",
                                      requests=3, prompt_tokens=30, completion_tokens=60, cost=2_500)  # fmt: skip
    ConsumerUsageDaily.objects.create(day=today - dt.timedelta(days=2), user=consumer, key_id=key.pk,
                                      model_label="demo/pydoc-gpt", requests=1, prompt_tokens=5, completion_tokens=5,
                                      cost=0)  # fmt: skip
    client = logged_in(consumer)

    page = client.get("/settings/usage?group_by=model").content.decode()
    csv_response = client.get("/settings/usage.csv?group_by=day")

    assert (
        "<td>alice/tiny-gpt</td>" in page
        and '<td class="amount"><span class="credits" title="0.002500 credits">0.0025</span></td>' in page
    )
    assert page.count("<td data-day=") == 30  # the chart's table: one row per day of the default 30-day period
    assert csv_response["Content-Type"] == "text/csv"
    assert csv_response.content.decode().splitlines() == [
        "day,requests,prompt_tokens,completion_tokens,cost_credits",
        f"{today - dt.timedelta(days=2)},1,5,5,0.000000",
        f"{today},3,30,60,0.002500",
    ]
    assert client.get("/settings/usage.csv?group_by=week").status_code == 400


def test_key_limits_are_set_from_the_keys_page(consumer, make_key):
    make_key(consumer, scopes=("infer",))
    key = ApiKey.objects.get(user=consumer)
    prefix = f"key{key.pk}"

    response = logged_in(consumer).post(
        f"/settings/keys/{key.pk}/limits",
        {f"{prefix}-rpm_limit": "30", f"{prefix}-tpm_limit": "", f"{prefix}-spend_limit": "2.5",
         f"{prefix}-spend_period": "week"},
        follow=True,
    )  # fmt: skip

    key.refresh_from_db()
    assert (key.rpm_limit, key.tpm_limit, key.spend_limit, key.spend_period) == (30, None, 2_500_000, "week")
    assert (
        "30 req/min" in response.content.decode()
        and 'of <span class="credits" title="2.500000 credits">2.5</span> credits per week' in response.content.decode()
    )


def test_bad_limits_or_someone_elses_key_change_nothing(consumer, outsider, make_key):
    make_key(consumer, scopes=("infer",))
    key = ApiKey.objects.get(user=consumer)
    prefix = f"key{key.pk}"
    bad = {f"{prefix}-rpm_limit": "0", f"{prefix}-spend_period": "month"}
    good = {f"{prefix}-rpm_limit": "5", f"{prefix}-spend_period": "month"}

    own = logged_in(consumer).post(f"/settings/keys/{key.pk}/limits", bad, follow=True)
    foreign = logged_in(outsider).post(f"/settings/keys/{key.pk}/limits", good, follow=True)

    assert "Limits not changed" in own.content.decode()
    assert "Limits not changed: no such key" in foreign.content.decode()
    key.refresh_from_db()
    assert key.rpm_limit is None


def test_earnings_page_and_payout_requests(provider):
    ProviderEarningsDaily.objects.create(day=timezone.now().date(), provider=provider, model_label="alice/tiny-gpt",
                                         commit_sha="a" * 40, requests=2, prompt_tokens=10, completion_tokens=20,
                                         gross=5_000, earnings=4_000, fee=1_000)  # fmt: skip
    earnings = ledger.account_for(provider.pk, "earnings")
    from django.db import transaction

    with transaction.atomic():
        ledger.post_transaction(kind="adjustment", entries=[(ledger.account_for(None, "external"), -4_000),
                                                            (earnings, 4_000)])  # fmt: skip
    client = logged_in(provider)

    page = client.get("/settings/earnings").content.decode()
    too_much = client.post("/settings/earnings", {"amount": "0.004001"})
    fine = client.post("/settings/earnings", {"amount": "0.003"}, follow=True)

    assert (
        '<strong data-testid="earnings-balance"><span class="credits" title="0.004000 credits">0.004</span></strong>'
        in page
    )
    assert (
        "<code>aaaaaaaaaaaa</code>" in page
        and '<td class="amount"><span class="credits" title="0.004000 credits">0.004</span></td>' in page
    )
    assert "you can request at most 0.004000 credits" in too_much.content.decode()
    assert "Payout 1 of 0.003 credits requested." in fine.content.decode().replace(
        f"Payout {Payout.objects.get().pk}", "Payout 1"
    )
    assert ledger.account_for(provider.pk, "earnings").balance == 1_000


def listing_form(**overrides):
    form = {"title": "Tiny GPT", "summary": "A small model", "category": "chat", "tags": "small, demo",
            "license": "mit", "revision": "main", "prompt_price": "2", "completion_price": "6", "download_price": "0"}  # fmt: skip
    form.update(overrides)
    return form


def test_owner_creates_prices_and_publishes_a_listing(provider, provider_model, settings, client):
    settings.REVIEW_LISTINGS = False
    owner = logged_in(provider)

    saved = owner.post("/alice/tiny-gpt/listing", listing_form(), follow=True)
    assert "Listing saved." in saved.content.decode()
    assert "Status: <strong>draft</strong>" in saved.content.decode()
    assert "Store listing" not in client.get("/alice/tiny-gpt").content.decode()
    assert 'id="listing"' not in client.get("/alice/tiny-gpt").content.decode()

    published = owner.post("/alice/tiny-gpt/listing/publish", {"action": "publish"}, follow=True)

    assert "The listing is published." in published.content.decode()
    public_page = client.get("/alice/tiny-gpt").content.decode()
    assert "<dt>Price</dt><dd>2 / 6 credits per 1M prompt / completion tokens</dd>" in public_page
    assert "<dt>Access</dt><dd>call only</dd>" in public_page


def test_with_review_publishing_waits_and_a_suspension_reason_is_shown(provider, provider_model, settings):
    settings.REVIEW_LISTINGS = True
    owner = logged_in(provider)
    owner.post("/alice/tiny-gpt/listing", listing_form())

    pending = owner.post("/alice/tiny-gpt/listing/publish", {"action": "publish"}, follow=True).content.decode()
    assert "The listing is pending review." in pending
    from marketplace.services import listings

    listings.review_listing(listing_id=Listing.objects.get().pk, approve=False, reason="Licence missing from card")
    assert (
        "Suspended by the operators: Licence missing from card" in owner.get("/alice/tiny-gpt/listing").content.decode()
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("prompt_price", "-1"), ("completion_price", "lots"), ("license", "MIT License!"), ("title", "")],
)
def test_bad_listing_input_shows_an_error_and_saves_nothing(provider, provider_model, field, value):
    response = logged_in(provider).post("/alice/tiny-gpt/listing", listing_form(**{field: value}))

    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert Listing.objects.count() == 0 and PriceCard.objects.count() == 0


def test_someone_else_cannot_see_or_edit_the_listing_editor(provider, provider_model, outsider):
    intruder = logged_in(outsider)

    assert intruder.get("/alice/tiny-gpt/listing").status_code == 404
    assert intruder.post("/alice/tiny-gpt/listing", listing_form()).status_code == 404
    assert intruder.post("/alice/tiny-gpt/listing/publish", {"action": "publish"}).status_code == 404
    assert Listing.objects.count() == 0


def test_wallet_lists_transactions_newest_first(consumer):
    ledger.top_up(user=consumer, amount=MICRO, memo="first")
    ledger.top_up(user=consumer, amount=2 * MICRO, memo="second")

    page = logged_in(consumer).get("/settings/wallet").content.decode()

    assert page.index("second") < page.index("first")
    assert '<td data-label="Amount" class="amount"><span class="credits" title="2.000000 credits">2</span></td>' in page


def test_the_provider_dashboard(client, provider, consumer, outsider, settings):
    settings.REVIEW_LISTINGS = False
    publish(provider, "poetry-gpt", title="Poetry GPT", prices=("1", "1"))
    hidden = publish(provider, "coder", prices=("0", "0"))
    listings.review_listing(listing_id=hidden.pk, approve=False, reason="Misleading card.", by=provider)
    today = timezone.now().date()
    for user, requests, cost in ((consumer, 3, 3000), (outsider, 1, 1000), (provider, 50, 0)):  # the owner: not counted
        ConsumerUsageDaily.objects.create(day=today, user=user, model_label="alice/poetry-gpt", requests=requests,
                                          prompt_tokens=10 * requests, completion_tokens=requests, cost=cost)  # fmt: skip
    client.force_login(provider)

    page = client.get("/settings/earnings")
    html = page.content.decode()

    dashboard = page.context["dashboard"]
    assert [listing.model.name for listing in dashboard.listings] == ["coder", "poetry-gpt"]
    assert "Reason: Misleading card." in html
    assert dashboard.metric == "calls"
    assert [listing.calls_in_period for listing in dashboard.listings] == [0, 4]
    assert list(dashboard.per_listing) == ["alice/poetry-gpt"] and dashboard.per_listing["alice/poetry-gpt"][-1] == (
        today,
        4,
    )
    assert dashboard.consumers == 2
    assert [(row["rank"], row["requests"], row["tokens"], row["spend"], row["share"]) for row in dashboard.top] == [
        (1, 3, 33, 3000, 75), (2, 1, 11, 1000, 25)]  # fmt: skip
    assert "2 consumers in this period (names are not shown)" in html
    assert "bob" not in html and "mallory" not in html
    assert "Calls per day to alice/poetry-gpt" in html and "highest day: 4 calls" in html

    tokens = client.get("/settings/earnings?metric=tokens")
    assert tokens.context["dashboard"].per_listing["alice/poetry-gpt"][-1] == (today, 44)  # 33 + 11: not the owner's
    assert "Tokens per day to alice/poetry-gpt" in tokens.content.decode()
    assert "highest day: 44 tokens" in tokens.content.decode()
    ProviderEarningsDaily.objects.create(day=today, provider=provider, model_label="alice/poetry-gpt", commit_sha="a" * 40,
                                         requests=4, gross=4000, earnings=3200, fee=800)  # fmt: skip
    earned = client.get("/settings/earnings?metric=earnings")
    assert earned.context["dashboard"].per_listing == {
        "alice/poetry-gpt": [(today - dt.timedelta(days=n), 0) for n in range(29, 0, -1)] + [(today, 3200)]}  # fmt: skip
    assert '<td class="amount" data-value="3200">0.0032</td>' in earned.content.decode()
    assert client.get("/settings/earnings?metric=nonsense").context["dashboard"].metric == "calls"


def test_the_usage_page_is_the_consumers_dashboard(client, consumer, settings):
    settings.LOW_BALANCE_CREDITS = 2
    ledger.top_up(user=consumer, amount=MICRO)
    today = timezone.now().date()
    for label, cost in (("alice/a", 3000), ("alice/b", 9000), ("alice/a", 1000)):
        ConsumerUsageDaily.objects.create(day=today, user=consumer, key_id=len(label) + cost, model_label=label,
                                          requests=1, cost=cost)  # fmt: skip
    client.force_login(consumer)

    page = client.get("/settings/usage?group_by=day")
    html = page.content.decode()

    assert page.context["by_model"] == [{"label": "alice/b", "value": 9000, "shown": "0.009"},
                                        {"label": "alice/a", "value": 4000, "shown": "0.004"}]  # fmt: skip
    assert 'id="low-balance"' in html and "Your balance is low" in html
    assert "No keys yet" in html and "No fine-tuning or pretraining jobs yet" in html
    settings.LOW_BALANCE_CREDITS = 1
    assert 'id="low-balance"' not in client.get("/settings/usage").content.decode()


def test_the_consumers_dashboard_lists_keys_with_limits_spend_and_last_use_and_jobs(client, provider, served_commit):
    api_key, _ = accounts.create_api_key(user=provider, name="laptop", scopes=["read", "infer"])
    revoked, _ = accounts.create_api_key(user=provider, name="old", scopes=["read"])
    accounts.revoke_api_key(user=provider, key_id=revoked.pk)
    used = timezone.now().replace(hour=9, minute=30, second=0, microsecond=0)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=used, spend_limit=5 * MICRO, spend_period="day")
    ConsumerUsageDaily.objects.create(day=timezone.now().date(), user=provider, key_id=api_key.pk,
                                      model_label="bob/x", requests=2, cost=1_250_000)  # fmt: skip
    data = files.create_file(user=provider, filename="d.jsonl", purpose="fine-tune", data=b'{"text": "a"}\n' * 10)
    job = fine_tuning_job(owner=provider, commit=served_commit, base_label="alice/tiny-gpt", data=data, seed=1, estimated_tokens=10,
                                       method=None)  # fmt: skip
    client.force_login(provider)

    page = client.get("/settings/usage")
    html = page.content.decode()

    assert [(key.name, spent) for key, spent in page.context["keys"]] == [("laptop", 1_250_000)]
    row = html[html.index('<table id="dashboard-keys">') : html.index("</table>", html.index('id="dashboard-keys"'))]
    assert "laptop" in row and "old" not in row
    assert (
        "600 req/min, 1M tokens/min, at most" in row
        and "per day (UTC)" in row
        and used.strftime("%Y-%m-%d 09:30") in row
    )
    assert 'title="1.250000 credits">1.25</span> of <span class="credits" title="5.000000 credits">5</span>' in row
    assert f'href="/jobs/{job.public_id}"' in html and "alice/tiny-gpt" in html and "Queued" in html
    assert "Your jobs" in client.get("/settings/earnings").content.decode()


@pytest.mark.parametrize(("metric", "value", "words"), [("calls", 1, "1 call"), ("calls", 2, "2 calls"),
                                                        ("tokens", 1, "1 token"), ("tokens", 12, "12 tokens")])  # fmt: skip
def test_a_chart_caption_names_its_unit_in_the_right_number(metric, value, words):
    chart = daily_chart([(dt.date(2026, 11, 30), value)], label=str)
    html = render_to_string(
        "marketplace/_daily_chart.html", {"chart": chart, "caption": "Per day", **CHART_WORDS[metric]}
    )
    assert f"highest day: {words}</figcaption>" in " ".join(html.split()).replace(" </figcaption>", "</figcaption>")
