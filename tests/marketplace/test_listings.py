"""Listings: editing, versioned price cards, review, publishing rules, the operator's publish command."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.exceptions import Conflict, InvalidInput, NotFound
from marketplace.models import Listing, ListingStatus, PriceCard
from marketplace.services import listings
from registry import services as registry
from registry.models import ValidationStatus
from tests.marketplace.conftest import add_commit

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(provider, provider_model):
    return listings.save_listing(model=provider_model, by=provider, title="Tiny GPT", license="mit", tags="chat, Small")


def snapshot(listing):
    listing.refresh_from_db()
    return (listing.title, listing.status, listing.price_card_id, PriceCard.objects.count())


def test_a_listing_starts_as_a_draft_with_clean_tags(draft):
    assert (draft.status, draft.tags, draft.revision, draft.license) == ("draft", ["chat", "small"], "main", "mit")


def test_price_cards_are_versioned_and_never_edited(provider, draft):
    first = listings.set_prices(listing=draft, by=provider, prompt_price="2", completion_price="6.5")
    same = listings.set_prices(listing=draft, by=provider, prompt_price="2.000000", completion_price="6.5")
    second = listings.set_prices(listing=draft, by=provider, prompt_price="0", completion_price="0")

    assert (first.prompt_price, first.completion_price, first.download_price) == (2_000_000, 6_500_000, 0)
    assert same.pk == first.pk  # unchanged prices make no new card
    assert second.is_free and PriceCard.objects.count() == 2
    draft.refresh_from_db()
    assert draft.price_card_id == second.pk


@pytest.mark.parametrize(
    ("field", "value"),
    [("prompt_price", "-1"), ("completion_price", "10000.000001"), ("prompt_price", "1e400"), ("download_price", "x")],
)
def test_prices_out_of_range_are_refused_and_change_nothing(provider, draft, field, value):
    listings.set_prices(listing=draft, by=provider, prompt_price="1", completion_price="1")
    before = snapshot(draft)
    prices = {"prompt_price": "1", "completion_price": "1", "download_price": "0", field: value}

    with pytest.raises(InvalidInput) as caught:
        listings.set_prices(listing=draft, by=provider, **prices)

    assert caught.value.param == field
    assert snapshot(draft) == before


def test_someone_else_cannot_edit_a_listing_or_its_prices(outsider, provider, draft):
    listings.set_prices(listing=draft, by=provider, prompt_price="1", completion_price="1")
    before = snapshot(draft)

    with pytest.raises(NotFound):
        listings.save_listing(model=draft.model, by=outsider, title="Mine now")
    with pytest.raises(NotFound):
        listings.set_prices(listing=draft, by=outsider, prompt_price="0", completion_price="0")
    with pytest.raises(NotFound):
        listings.submit_listing(listing_id=draft.pk, by=outsider)
    with pytest.raises(NotFound):
        listings.unpublish_listing(listing_id=draft.pk, by=outsider)

    assert snapshot(draft) == before


def test_publishing_needs_a_price_card(provider, draft, settings):
    settings.REVIEW_LISTINGS = False
    with pytest.raises(InvalidInput, match="price card"):
        listings.submit_listing(listing_id=draft.pk, by=provider)
    assert snapshot(draft)[1] == "draft"


def test_an_invalid_revision_cannot_be_published(provider, provider_model, settings):
    settings.REVIEW_LISTINGS = False
    bad = add_commit(provider_model, status=ValidationStatus.INVALID, parent=provider_model.commits.get(), message="b")
    listing = listings.save_listing(model=provider_model, by=provider, title="T", revision=bad.sha)
    listings.set_prices(listing=listing, by=provider, prompt_price="1", completion_price="1")

    with pytest.raises(InvalidInput, match="is invalid; only a valid revision can be published"):
        listings.submit_listing(listing_id=listing.pk, by=provider)
    assert snapshot(listing)[1] == "draft"


def test_a_private_model_cannot_be_published(provider, draft, settings):
    settings.REVIEW_LISTINGS = False
    listings.set_prices(listing=draft, by=provider, prompt_price="1", completion_price="1")
    registry.set_visibility(model_id=draft.model_id, is_private=True)

    with pytest.raises(InvalidInput, match="private"):
        listings.submit_listing(listing_id=draft.pk, by=provider)
    assert snapshot(draft)[1] == "draft"


def test_with_review_a_listing_waits_for_the_operator(provider, draft, settings):
    settings.REVIEW_LISTINGS = True
    listings.set_prices(listing=draft, by=provider, prompt_price="1", completion_price="1")

    assert listings.submit_listing(listing_id=draft.pk, by=provider).status == ListingStatus.PENDING_REVIEW
    assert not Listing.objects.published().exists()
    approved = listings.review_listing(listing_id=draft.pk, approve=True)
    assert approved.status == ListingStatus.PUBLISHED and approved.published_at is not None
    assert list(Listing.objects.published()) == [approved]


def test_a_suspension_needs_a_reason_and_only_review_lifts_it(provider, draft, settings):
    settings.REVIEW_LISTINGS = False
    listings.set_prices(listing=draft, by=provider, prompt_price="1", completion_price="1")
    listings.submit_listing(listing_id=draft.pk, by=provider)

    with pytest.raises(InvalidInput):
        listings.review_listing(listing_id=draft.pk, approve=False, reason="  ")
    suspended = listings.review_listing(listing_id=draft.pk, approve=False, reason="Card claims a benchmark it fails")
    assert (suspended.status, suspended.review_note) == ("suspended", "Card claims a benchmark it fails")
    with pytest.raises(Conflict, match="suspended: Card claims"):
        listings.submit_listing(listing_id=draft.pk, by=provider)
    assert snapshot(draft)[1] == "suspended"


def test_publish_command_creates_prices_and_publishes(provider, provider_model, settings):
    settings.REVIEW_LISTINGS = True  # the operator's shortcut skips review
    out = io.StringIO()
    call_command(
        "publish", "alice/tiny-gpt", "--prompt-price", "0.5", "--completion-price", "1.5", "--downloadable", stdout=out
    )

    listing = Listing.objects.get(model=provider_model)
    assert (listing.status, listing.is_downloadable, listing.revision) == ("published", True, "main")
    assert (listing.price_card.prompt_price, listing.price_card.completion_price) == (500_000, 1_500_000)
    sha = provider_model.commits.get().sha
    assert out.getvalue().strip() == (
        f"published alice/tiny-gpt at {sha[:12]} (main): 0.5 / 1.5 credits per 1M prompt / completion tokens"
    )


@pytest.mark.parametrize(
    "arguments",
    [
        ["nobody/nothing", "--prompt-price", "1", "--completion-price", "1"],
        ["alice/tiny-gpt", "--prompt-price", "-1", "--completion-price", "1"],
        ["alice/tiny-gpt", "--prompt-price", "1", "--completion-price", "1", "--revision", "v9"],
    ],
)
def test_publish_command_refuses_bad_input_with_a_message(provider_model, arguments):
    with pytest.raises(CommandError):
        call_command("publish", *arguments, stdout=io.StringIO())
    assert Listing.objects.count() == 0 and PriceCard.objects.count() == 0  # nothing half-written


def test_the_price_text_names_the_download_price(provider, provider_model):
    listing = listings.save_listing(model=provider_model, by=provider, title="Tiny GPT", license="mit")
    free_calls = listings.set_prices(listing=listing, by=provider, prompt_price="0", completion_price="0",
                                     download_price="0.5")  # fmt: skip
    paid = listings.set_prices(listing=listing, by=provider, prompt_price="2", completion_price="6")

    assert listings.describe_price(free_calls) == "free; weights 0.5 credits per download (once per commit)"
    assert listings.describe_price(paid) == "2 / 6 credits per 1M prompt / completion tokens"


def test_a_new_listing_starts_from_the_cards_license_tags_and_description(client, provider):
    """The licence said "other" beside a card saying `license: mit` (issue #23)."""
    from registry import services as registry

    model = registry.create_model(owner=provider, name="poet")
    registry.set_description(model_id=model.pk, description="Short verse on request.")
    registry.commit_card(model_id=model.pk, author=provider,
                         content="---\nlicense: MIT\ntags: [Poetry, tiny, not a tag!]\n---\n# Poet\n")  # fmt: skip
    client.force_login(provider)

    form = client.get("/alice/poet/listing").context["form"]

    assert (form["license"].value(), form["tags"].value(), form["summary"].value(), form["title"].value()) == (
        "mit", "poetry, tiny", "Short verse on request.", "alice/poet")  # fmt: skip


def test_the_model_panel_shows_each_tag_once(client, provider, settings):
    """A tag both on the listing and in the card appeared twice on the model panel (issue #23), and the card's
    licence showed again as a tag beside the Licence figure."""
    from tests.marketplace.conftest import publish

    settings.REVIEW_LISTINGS = False
    publish(provider, "poet", tags=["poetry"], card="---\nlicense: mit\ntags: [poetry, tiny]\n---\n# Poet\n")

    panel = client.get("/alice/poet").content.decode()

    assert panel.count(">#poetry</a>") == 1 and ">poetry</span>" not in panel
    assert '<span class="badge">tiny</span>' in panel and '<span class="badge">mit</span>' not in panel
    assert "<dt>Licence</dt><dd>mit</dd>" in panel
