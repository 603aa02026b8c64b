"""The demo model: trained here, published through the upload services, valid, public, idempotent."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command

from marketplace.models import Listing, PriceCard
from registry.models import Commit, Model, ValidationStatus
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_queued_build():
    """No build task of an earlier test waits in the broker's CPU job queue."""
    from workers.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.client.delete(settings.JOB_QUEUES["cpu"])


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


def _queued_builds() -> int:
    """Build tasks waiting in the broker's CPU job queue (Redis)."""
    from workers.celery import app

    with app.connection_for_write() as connection:
        return connection.default_channel.client.llen(settings.JOB_QUEUES["cpu"])


def test_make_run_serves_at_once_and_the_home_page_follows_the_demo_build(client):
    """`make run` queues the demo's build on the train worker and serves meanwhile: the home page shows the build's
    progress until the model is published, then the model itself. A second `make run` does not queue it twice."""
    from celery.contrib.testing.worker import start_worker

    from marketplace.services import demo_model
    from workers.celery import app

    out = io.StringIO()
    args = ("bootstrap_demo", "--if-absent", "--background", "--steps", "3", "--vocab-size", "400")
    call_command(*args, stdout=out, stderr=io.StringIO())
    call_command(*args, stdout=out, stderr=io.StringIO())

    assert out.getvalue().splitlines() == ["the demo model is queued on the train worker; the home page shows its progress",
                                           "the demo model is already being built"]  # fmt: skip
    assert _queued_builds() == 1
    assert not Model.objects.filter(owner__username="demo").exists()
    home = client.get("/").content.decode()
    assert 'id="demo-progress"' in home and "Queued for the train worker" in home

    with start_worker(
        app,
        pool="threads",
        concurrency=1,
        queues=[settings.JOB_QUEUES["cpu"]],
        perform_ping_check=False,
        loglevel="WARNING",
    ):
        wait_until(lambda: (demo_model.progress() or {}).get("state") in ("published", "failed"), timeout=120)

    assert demo_model.progress()["state"] == "published"
    commit = demo_model.published_commit()
    assert commit is not None and commit.validation_report["vocab_size"] == 400
    home = client.get("/").content.decode()
    assert 'id="demo-progress"' not in home and "pydoc-gpt (demo)" in home


def test_a_stalled_build_is_queued_again_and_a_failed_one_says_so(client):
    from marketplace.services import demo_model

    demo_model.record(state="training", step=40, steps=1300, loss=5.1)
    assert demo_model.build_in_background(steps=3) is False  # moving: left alone
    stalled = demo_model.progress()
    demo_model.cache.set(demo_model.PROGRESS_KEY, {**stalled, "at": stalled["at"] - demo_model.STALE_SECONDS - 1})
    assert "stalled" in client.get("/").content.decode()

    assert demo_model.build_in_background(steps=3) is True
    assert demo_model.progress()["state"] == "queued" and _queued_builds() == 1

    demo_model.record(state="failed", step=0, steps=3, error="the checkpoint did not load")
    page = client.get("/").content.decode()
    assert "Its build failed: the checkpoint did not load" in page and "make demo" in page
