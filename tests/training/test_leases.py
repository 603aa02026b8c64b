"""Claiming jobs: a user at MAX_ACTIVE_JOBS_PER_USER running jobs waits in `queued` while others' jobs run; a job
whose lease expired is claimed again, with one more attempt."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Notification
from files import services as files
from jobs import leases
from jobs.models import Job as FineTuningJob
from jobs.models import JobStatus
from tests.conftest import commit_valid_checkpoint
from tests.training.rows import fine_tuning_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_job(provider, tiny_checkpoint):
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)

    def make(owner, **fields):
        data = files.create_file(user=owner, filename="d.jsonl", purpose="fine-tune", data=b'{"text": "a"}\n' * 10)
        return fine_tuning_job(owner=owner, commit=commit, data=data, **fields)

    return make


def test_a_user_at_the_limit_waits_while_others_run(make_job, provider, outsider, settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 2
    live = timezone.now() + dt.timedelta(seconds=60)
    for _ in range(2):
        make_job(provider, status=JobStatus.RUNNING, lease_expires_at=live, lease_owner="w1")
    waiting = make_job(provider)
    other = make_job(outsider)

    claimed = leases.claim_job(worker="w2")

    assert claimed.pk == other.pk
    assert leases.claim_job(worker="w2") is None  # alice's third job waits
    assert FineTuningJob.objects.get(pk=waiting.pk).status == JobStatus.QUEUED


def test_an_expired_lease_is_claimed_again_with_one_more_attempt(make_job, provider):
    stale = make_job(provider, status=JobStatus.RUNNING, lease_owner="dead", attempts=1,
                     lease_expires_at=timezone.now() - dt.timedelta(seconds=1))  # fmt: skip

    claimed = leases.claim_job(worker="alive")

    assert (claimed.pk, claimed.lease_owner, claimed.attempts) == (stale.pk, "alive", 2)
    assert claimed.lease_expires_at > timezone.now()


def test_the_owner_hears_when_a_job_ends(make_job, provider):
    done, broken, stopped = make_job(provider), make_job(provider), make_job(provider)
    FineTuningJob.objects.filter(pk=done.pk).update(result_label="alice/tiny-gpt-ft-x")
    leases.finish_job(done, status=JobStatus.SUCCEEDED, units=0)
    leases.finish_job(
        broken, status=JobStatus.FAILED, error={"code": "worker_lost", "message": "the worker died"}, units=0
    )
    leases.finish_job(stopped, status=JobStatus.CANCELLED, units=0)

    assert list(Notification.objects.order_by("pk").values_list("kind", "message", "link")) == [
        ("job_succeeded", f"Job {done.public_id} succeeded, result alice/tiny-gpt-ft-x.", f"/jobs/{done.public_id}"),
        ("job_failed", f"Job {broken.public_id} failed: the worker died.", f"/jobs/{broken.public_id}"),
    ]
