"""The demo model: trained here, published through the upload services, valid, public, idempotent."""

import io

import pytest
from django.core.management import call_command

from marketplace.models import Listing, PriceCard
from registry.models import Commit, Model, ValidationStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_bootstrap_demo_publishes_a_public_valid_model_once(client):
    out = io.StringIO()

    call_command("bootstrap_demo", "--steps", "3", "--vocab-size", "400", stdout=out, stderr=io.StringIO())
    call_command("bootstrap_demo", "--if-absent", "--steps", "3", stdout=out, stderr=io.StringIO())

    model = Model.objects.get(owner__username="demo", name="pydoc-gpt")
    commit = Commit.objects.get(model=model)
    assert model.is_private is False
    assert commit.validation_status == ValidationStatus.VALID
    assert commit.validation_report["vocab_size"] == 400
    assert sorted(commit.files.values_list("path", flat=True)) == [
        "README.md", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    ]  # fmt: skip
    assert "already published" in out.getvalue()
    assert client.get("/api/models/demo/pydoc-gpt").json()["sha"] == commit.sha
    listing = Listing.objects.published().get(model=model)  # in the store, free, weights downloadable
    assert (listing.price_card.prompt_price, listing.price_card.completion_price, listing.is_downloadable) == (
        0,
        0,
        True,
    )
    assert (listing.license, listing.revision, PriceCard.objects.count()) == ("psf-2.0", "main", 1)
