"""Marketplace fixtures: a provider's model with a valid commit, a published listing, a funded consumer."""

import hashlib

import pytest
from django.utils import timezone

from marketplace.money import MICRO
from marketplace.services import ledger, limits, listings
from registry import services as registry
from registry.models import Commit, Ref, RefKind, ValidationStatus
from tests.conftest import record_evaluation


def add_commit(model, *, status=ValidationStatus.VALID, parent=None, message="weights", evaluated=True):
    """A commit in the given validation state, as the validate task would have left it (no files needed:
    the marketplace only reads its sha and status), and a valid one evaluated unless `evaluated` is False."""
    sha = hashlib.sha1(f"{model.pk}:{message}:{Commit.objects.count()}".encode()).hexdigest()
    commit = Commit.objects.create(
        model=model, sha=sha, parent=parent, message=message, author=model.owner, validation_status=status,
        validated_at=timezone.now(),
    )  # fmt: skip
    Ref.objects.update_or_create(model=model, kind=RefKind.BRANCH, name="main", defaults={"commit": commit})
    if evaluated and status == ValidationStatus.VALID:
        record_evaluation(commit)
    return commit


@pytest.fixture
def provider_model(provider):
    model = registry.create_model(owner=provider, name="tiny-gpt")
    add_commit(model)
    return model


def submitted_listing(provider, model, *, prompt_price: str, completion_price: str):
    """The provider's listing of `model` with a price card, submitted (published at once unless REVIEW_LISTINGS)."""
    created = listings.save_listing(model=model, by=provider, title="Tiny GPT", license="mit")
    listings.set_prices(listing=created, by=provider, prompt_price=prompt_price, completion_price=completion_price)
    return listings.submit_listing(listing_id=created.pk, by=provider)


@pytest.fixture
def listing(provider, provider_model, settings):
    """Published at 2 credits per 1M prompt tokens and 6 per 1M completion tokens."""
    settings.REVIEW_LISTINGS = False
    return submitted_listing(provider, provider_model, prompt_price="2", completion_price="6")


@pytest.fixture
def cheap_listing(provider, provider_model, settings):
    """Published at 5 credits per 1M prompt and completion tokens."""
    settings.REVIEW_LISTINGS = False
    return submitted_listing(provider, provider_model, prompt_price="5", completion_price="5")


def publish(owner, name, *, title=None, summary="", card="", category="general", tags=(), license="mit",
            downloadable=False, prices=("1", "1"), parameters=1_000_000, context=256, arch="GPT2LMHeadModel",
            lineage=None):  # fmt: skip
    """A published listing of a new model whose main commit is valid, with this report, card and lineage."""
    model = registry.create_model(owner=owner, name=name)
    commit = registry.commit_card(model_id=model.pk, author=owner, content=card) if card else add_commit(model)
    Commit.objects.filter(pk=commit.pk).update(
        validation_status=ValidationStatus.VALID, lineage=lineage or {},
        validation_report={"parameters": parameters, "context_length": context, "architecture": arch},
    )  # fmt: skip
    if card:
        record_evaluation(commit, parameters=parameters)
    listing = listings.save_listing(model=model, by=owner, title=title or name, summary=summary, category=category,
                                    tags=tags, license=license, is_downloadable=downloadable)  # fmt: skip
    listings.set_prices(listing=listing, by=owner, prompt_price=prices[0], completion_price=prices[1])
    return listings.submit_listing(listing_id=listing.pk, by=owner)


@pytest.fixture
def funded_consumer(consumer):
    ledger.top_up(user=consumer, amount=10 * MICRO)
    return consumer


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    """Rate and spend counters live in Redis: start every test from none."""
    limits.reset_clients()
    limits.client().flushdb()
    yield
    limits.reset_clients()
