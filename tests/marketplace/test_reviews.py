"""Reviews (only from users who called or pulled the model, one each, editable, one answer from the provider),
reports to the moderators, both rate-limited, and the compare page."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from core.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from marketplace.models import ConsumerUsageDaily, ListingReport, ListingStats, Pull, Review
from marketplace.services import reviews
from tests.conftest import PASSWORD
from tests.marketplace.conftest import publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_review(settings):
    settings.REVIEW_LISTINGS = False


def used(user, listing) -> None:
    ConsumerUsageDaily.objects.create(day=timezone.now().date() - dt.timedelta(days=3), user=user,
                                      model_label=listing.model.repo_id, requests=1)  # fmt: skip


@pytest.fixture
def poetry(provider):
    return publish(provider, "poetry-gpt", summary="Verse")


def test_who_may_review(poetry, provider, consumer, outsider):
    model = poetry.model
    assert [reviews.may_review(model=model, user=u) for u in (provider, consumer, outsider)] == [False] * 3

    used(consumer, poetry)
    reviews.record_pull(model=model, user=outsider)
    reviews.record_pull(model=model, user=provider)  # the owner's own pulls are not recorded

    assert [reviews.may_review(model=model, user=u) for u in (provider, consumer, outsider)] == [False, True, True]
    assert list(Pull.objects.values_list("user__username", flat=True)) == ["mallory"]


def test_one_review_per_user_edited_in_place_and_the_rating_follows(poetry, consumer, outsider):
    used(consumer, poetry)
    used(outsider, poetry)

    first = reviews.save_review(model=poetry.model, user=consumer, rating="2", text="Too short.")
    reviews.save_review(model=poetry.model, user=outsider, rating=5, text="")
    edited = reviews.save_review(model=poetry.model, user=consumer, rating=4, text="Better after the update.")

    assert edited.pk == first.pk
    assert list(Review.objects.order_by("user__username").values_list("user__username", "rating", "text")) == [
        ("bob", 4, "Better after the update."), ("mallory", 5, "")]  # fmt: skip
    assert edited.commit_sha == poetry.model.commits.get().sha
    stats = ListingStats.objects.get(pk=poetry.pk)
    assert (stats.rating, stats.rating_count) == (4.5, 2)


def test_a_rating_is_drawn_left_to_right(client, poetry, consumer, outsider):
    """A 2-star review was drawn ☆☆☆★★ (issue #23): the form's descending choices drew the stars too."""
    used(consumer, poetry)
    used(outsider, poetry)
    reviews.save_review(model=poetry.model, user=consumer, rating=2, text="Too short.")
    reviews.save_review(model=poetry.model, user=outsider, rating=5, text="")

    page = client.get("/alice/poetry-gpt").content.decode()

    assert '<span class="stars" aria-label="2 out of 5 stars">★★☆☆☆</span>' in page
    assert '<span class="stars" aria-label="5 out of 5 stars">★★★★★</span>' in page


@pytest.mark.parametrize(
    ("rating", "text", "param"),
    [("0", "", "rating"), ("6", "", "rating"), ("four", "", "rating"), ("", "", "rating"), ("3", "x" * 2001, "text"),
     ("3", "nul\x00", "text")],
)  # fmt: skip
def test_bad_reviews_are_refused_and_nothing_is_saved(poetry, consumer, rating, text, param):
    used(consumer, poetry)
    with pytest.raises(InvalidInput) as refused:
        reviews.save_review(model=poetry.model, user=consumer, rating=rating, text=text)
    assert refused.value.param == param
    assert Review.objects.count() == 0
    assert ListingStats.objects.get(pk=poetry.pk).rating_count == 0


def test_a_stranger_or_the_owner_cannot_review(poetry, provider, outsider):
    for user in (provider, outsider):
        with pytest.raises(PermissionDenied):
            reviews.save_review(model=poetry.model, user=user, rating=5)
    assert Review.objects.count() == 0


def test_the_provider_answers_once(poetry, provider, consumer, outsider):
    used(consumer, poetry)
    review = reviews.save_review(model=poetry.model, user=consumer, rating=3, text="Fine.")

    with pytest.raises(NotFound):
        reviews.reply(review_id=review.pk, by=outsider, text="I am not the provider")
    reviews.reply(review_id=review.pk, by=provider, text="Thanks, fixed in v2.")
    with pytest.raises(Conflict):
        reviews.reply(review_id=review.pk, by=provider, text="Second answer")

    review.refresh_from_db()
    assert (review.reply, review.replied_at is not None) == ("Thanks, fixed in v2.", True)


def test_reviews_and_reports_are_rate_limited(poetry, consumer, settings):
    settings.REVIEWS_PER_HOUR, settings.REPORTS_PER_HOUR = 2, 1
    used(consumer, poetry)
    reviews.save_review(model=poetry.model, user=consumer, rating=1)
    reviews.save_review(model=poetry.model, user=consumer, rating=2)
    with pytest.raises(RateLimited):
        reviews.save_review(model=poetry.model, user=consumer, rating=5)
    reviews.report_listing(listing=poetry, by=consumer, reason="spam")
    with pytest.raises(RateLimited):
        reviews.report_listing(listing=poetry, by=consumer, reason="spam")

    assert Review.objects.get().rating == 2
    assert ListingReport.objects.count() == 1


@pytest.mark.parametrize(("reason", "text", "param"), [("rude", "", "reason"), ("other", "", "text")])
def test_bad_reports_are_refused(poetry, consumer, reason, text, param):
    with pytest.raises(InvalidInput) as refused:
        reviews.report_listing(listing=poetry, by=consumer, reason=reason, text=text)
    assert refused.value.param == param
    assert ListingReport.objects.count() == 0


def test_reviewing_and_answering_from_the_model_page(client, poetry, provider, consumer):
    used(consumer, poetry)
    client.login(username="bob", password=PASSWORD)
    response = client.post("/alice/poetry-gpt/reviews", {"rating": "4", "text": "<script>alert(1)</script> nice"})
    assert (response.status_code, response["Location"]) == (302, "/alice/poetry-gpt#reviews")
    page = client.get("/alice/poetry-gpt").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; nice" in page and "<script>alert(1)" not in page
    assert "Edit your review" in page

    client.login(username="alice", password=PASSWORD)
    review = Review.objects.get()
    client.post(f"/alice/poetry-gpt/reviews/{review.pk}/reply", {"reply": "Thank you!"})
    page = client.get("/alice/poetry-gpt").content.decode()
    assert "alice answered" in page and "Thank you!" in page
    assert "★ 4.0 (1)" in page


def test_a_bad_review_from_the_page_says_why(client, poetry, consumer):
    used(consumer, poetry)
    client.login(username="bob", password=PASSWORD)
    page = client.post("/alice/poetry-gpt/reviews", {"rating": "9"}, follow=True).content.decode()
    assert "Your review was not saved: rating must be a whole number from 1 to 5" in page
    assert Review.objects.count() == 0


def test_forms_need_the_csrf_token(poetry, consumer):
    used(consumer, poetry)
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="bob", password=PASSWORD)
    assert browser.post("/alice/poetry-gpt/reviews", {"rating": "4"}).status_code == 403
    assert browser.post("/alice/poetry-gpt/report", {"reason": "spam"}).status_code == 403
    assert (Review.objects.count(), ListingReport.objects.count()) == (0, 0)


def test_reporting_from_the_page(client, poetry, consumer):
    client.login(username="bob", password=PASSWORD)
    response = client.post("/alice/poetry-gpt/report", {"reason": "misleading", "text": "The figures are off."})
    assert response.status_code == 302
    report = ListingReport.objects.get()
    assert (report.reporter, report.reason, report.text, report.status) == (
        consumer, "misleading", "The figures are off.", "open")  # fmt: skip
    assert client.post("/alice/nothing-here/report", {"reason": "spam"}).status_code == 404


def test_compare_two_to_four(client, provider, consumer):
    publish(provider, "a", prices=("1", "2"), parameters=5_000_000)
    publish(consumer, "b", prices=("3", "4"), parameters=124_000_000, downloadable=True)
    page = client.get("/compare?m=bob/b&m=alice/a")

    assert page.status_code == 200
    assert [listing.model.repo_id for listing in page.context["rows"]] == ["bob/b", "alice/a"]
    assert client.get("/compare?m=alice/a,bob/b").context["rows"][0].model.repo_id == "alice/a"
    for query, message in (("m=alice/a", "choose 2 to 4 models"), ("m=alice/a&m=alice/zzz", "not in the store: alice/zzz"),
                           ("m=a&m=b&m=c&m=d&m=e", "choose 2 to 4"), ("m=alice/a&m=nobody", "&#x27;nobody&#x27; is not owner/name")):  # fmt: skip
        refused = client.get(f"/compare?{query}")
        assert refused.status_code == 400
        assert message in refused.content.decode()


def test_pulling_weights_entitles_a_review(client, served_commit, provider, consumer, make_key):
    from marketplace.services import listings

    listing = listings.save_listing(model=served_commit.model, by=provider, title="Tiny", is_downloadable=True)
    listings.set_prices(listing=listing, by=provider, prompt_price="0", completion_price="0")
    listings.submit_listing(listing_id=listing.pk, by=provider)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {make_key(consumer, scopes=('read',))}"}
    assert not reviews.may_review(model=served_commit.model, user=consumer)

    assert client.get("/alice/tiny-gpt/resolve/main/config.json", **auth).status_code == 200
    assert not reviews.may_review(model=served_commit.model, user=consumer)  # a config is not the weights
    assert client.get("/alice/tiny-gpt/resolve/main/model.safetensors", **auth).status_code == 200
    assert reviews.may_review(model=served_commit.model, user=consumer)


def test_a_report_leads_to_a_suspension(client, poetry, provider, consumer, outsider, make_key, settings):
    from django.contrib.auth import get_user_model

    from marketplace.services import catalogue

    moderator = get_user_model().objects.create_superuser(username="mod", password=PASSWORD, email="m@example.com")
    first = reviews.report_listing(listing=poetry, by=consumer, reason="harmful", text="It insults people.")
    second = reviews.report_listing(listing=poetry, by=outsider, reason="spam")
    kept = reviews.resolve_report(report_id=second.pk, by=moderator, suspend=False, note="Not spam.")
    assert kept.status == "dismissed"

    client.login(username="mod", password=PASSWORD)
    response = client.post(f"/admin/marketplace/listingreport/{first.pk}/change/",
                           {"resolution": "Insults in its samples.", "decision": "suspend"})  # fmt: skip
    assert response.status_code == 302

    poetry.refresh_from_db()
    first.refresh_from_db()
    assert (poetry.status, poetry.review_note, poetry.reviewed_by) == (
        "suspended",
        "Insults in its samples.",
        moderator,
    )
    assert (first.status, first.resolved_by) == ("acted_on", moderator)
    assert [hit.pk for hit in catalogue.listings(catalogue.parse_query({"q": "poetry"}))] == []
    secret = make_key(consumer, scopes=("infer",))
    refused = client.post("/v1/completions", {"model": "alice/poetry-gpt", "prompt": "x", "max_tokens": 1},
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "model_not_found")
    client.login(username="alice", password=PASSWORD)
    assert "Insults in its samples." in client.get("/alice/poetry-gpt/listing").content.decode()
    with pytest.raises(Conflict):
        reviews.resolve_report(report_id=first.pk, by=moderator, suspend=False, note="again")
