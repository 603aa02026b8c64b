"""The listing gate: a listing goes live only once the store's evaluation of the commit it serves succeeded. Asked
before, publishing waits (the listing says why) and goes live by itself when the evaluation ends; a failed evaluation
refuses with its reason and changes nothing."""

import pytest

from core.exceptions import InvalidInput
from evaluation import services
from evaluation.models import Evaluation
from jobs import leases, runner
from jobs.models import Job, JobStatus
from marketplace.models import Listing, ListingStatus
from marketplace.services import listings
from tests.conftest import commit_valid_checkpoint

pytestmark = pytest.mark.django_db(transaction=True)


def draft_of(provider, commit):
    listing = listings.save_listing(model=commit.model, by=provider, title="Tiny GPT", license="mit")
    listings.set_prices(listing=listing, by=provider, prompt_price="1", completion_price="2")
    return listing


def run_queued_evaluation() -> Job:
    job = leases.claim_job(worker=runner.WORKER, kind_names=("evaluate",))
    assert job is not None
    runner.run_job(job)
    job.refresh_from_db()
    return job


def test_publishing_waits_for_the_evaluation_then_goes_live(provider, tiny_checkpoint, settings):
    settings.REVIEW_LISTINGS = False
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128, evaluated=False)
    listing = draft_of(provider, commit)
    waiting = listings.submit_listing(listing_id=listing.pk, by=provider)
    job = Job.objects.get(kind="evaluate")
    assert waiting.status == ListingStatus.EVALUATING
    assert waiting.review_note == (f"commit {commit.sha[:12]} is being evaluated by the store (job queued); the "
                                   "listing goes live when the evaluation succeeds")  # fmt: skip
    assert Listing.objects.published().count() == 0
    assert listings.submit_listing(listing_id=listing.pk, by=provider).status == ListingStatus.EVALUATING
    assert Job.objects.filter(kind="evaluate").count() == 1  # asking again does not queue another
    assert run_queued_evaluation().pk == job.pk
    listing.refresh_from_db()
    assert (listing.status, listing.review_note) == (ListingStatus.PUBLISHED, "")
    assert listing.published_at is not None
    assert Evaluation.objects.get(commit=commit, dataset_kind="standard").status == "succeeded"


def test_with_review_on_the_evaluated_listing_goes_to_review(provider, tiny_checkpoint, settings):
    settings.REVIEW_LISTINGS = True
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128, evaluated=False)
    listing = draft_of(provider, commit)
    assert listings.submit_listing(listing_id=listing.pk, by=provider).status == ListingStatus.EVALUATING
    with pytest.raises(InvalidInput, match="is being evaluated by the store"):  # no approval before the figures
        listings.review_listing(listing_id=listing.pk, approve=True)
    run_queued_evaluation()
    listing.refresh_from_db()
    assert listing.status == ListingStatus.PENDING_REVIEW


def test_a_failed_evaluation_refuses_publishing_with_its_reason(provider, checkpoint_copy, settings):
    settings.REVIEW_LISTINGS = False
    (checkpoint_copy / "config.json").write_text(
        '{"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 2, "vocab_size": 7}'
    )  # fmt: skip  (weights of another shape)
    commit = commit_valid_checkpoint(provider, "broken-gpt", checkpoint_copy, context_length=128, evaluated=False)
    listing = draft_of(provider, commit)
    assert listings.submit_listing(listing_id=listing.pk, by=provider).status == ListingStatus.EVALUATING
    job = run_queued_evaluation()
    assert job.status == JobStatus.FAILED
    listing.refresh_from_db()
    assert listing.status == ListingStatus.DRAFT
    assert listing.review_note.startswith(f"Not published: the store's evaluation of commit {commit.sha[:12]} failed:")
    with pytest.raises(InvalidInput, match=f"the store's evaluation of commit {commit.sha[:12]} failed") as refused:
        listings.submit_listing(listing_id=listing.pk, by=provider)
    assert refused.value.param == "revision"
    listing.refresh_from_db()
    assert listing.status == ListingStatus.DRAFT and Job.objects.filter(kind="evaluate").count() == 1


def test_the_operators_publish_evaluates_the_commit_first(provider, tiny_checkpoint):
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128, evaluated=False)
    listing = listings.publish_now(model=commit.model, prompt_price="1", completion_price="1")
    assert listing.status == ListingStatus.PUBLISHED
    job = Job.objects.get(kind="evaluate")
    assert job.status == JobStatus.SUCCEEDED and job.base_commit_id == commit.pk
    assert services.standard_result(commit).status == "succeeded"
