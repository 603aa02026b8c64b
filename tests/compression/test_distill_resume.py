"""A worker SIGKILLed mid-distillation: the job's lease runs out, another worker claims it, resumes from the saved
state of the student (weights, optimizer, RNGs, data position) and ends with one result model whose weights equal
those of a distillation never interrupted, byte for byte."""

import signal

import pytest
from django.utils import timezone

from jobs import queues
from jobs.models import JobStatus
from registry.models import Commit, Model
from tests.training.test_resume import clean_env, dataset, final_weights, wait_for, wider_checkpoint, worker  # noqa: F401
from training import jobs
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db(transaction=True)


def start(provider, dataset, suffix: str) -> FineTuningJob:
    method = {"type": "distill", "distill": {"student": {"n_layer": 2, "n_head": 4, "n_embd": 256},
                                             "hyperparameters": {"n_epochs": 2, "batch_size": 4}}}  # fmt: skip
    return jobs.create_job(user=provider, api_key=None, model="alice/wider", training_file=dataset.public_id,
                           suffix=suffix, seed=5, method_spec=method)  # fmt: skip


def test_a_killed_distillation_resumes_and_ends_with_one_result(provider, dataset, tmp_path, clean_env):
    steady = start(provider, dataset, "steady")
    process = worker(tmp_path, "steady")
    try:
        wait_for(steady, lambda job: job.status == JobStatus.SUCCEEDED)
    finally:
        process.terminate()
        process.wait(timeout=30)

    killed = start(provider, dataset, "killed")
    first = worker(tmp_path, "first")
    try:
        wait_for(killed, lambda job: job.step >= 16)  # in the second epoch: 12 steps an epoch, state every 3
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert FineTuningJob.objects.get(pk=killed.pk).status == JobStatus.RUNNING  # nobody finished it
    second = worker(tmp_path, "second")
    try:
        wait_for(killed, lambda job: job.lease_expires_at < timezone.now())
        queues.ask_for_work("cpu")  # what beat's look-for-job-work sends every 30 s
        wait_for(killed, lambda job: job.status == JobStatus.SUCCEEDED)
    finally:
        second.terminate()
        second.wait(timeout=30)

    resumed = FineTuningJob.objects.get(pk=killed.pk)
    assert resumed.attempts == 2
    started = [e.message for e in resumed.events.order_by("id") if e.message.startswith("Distillation started")]
    assert started == ["Distillation started", "Distillation started (attempt 2)"]
    assert Model.objects.filter(name__startswith="wider-distilled-killed").count() == 1
    commits = Commit.objects.filter(model=resumed.result_model)
    assert sorted(commits.values_list("message", flat=True)) == [
        f"Distill {resumed.public_id}, step 12", f"Distill {resumed.public_id}, step 24"]  # fmt: skip
    assert all(c.base_relation == "distilled" for c in commits)
    assert final_weights(resumed) == final_weights(FineTuningJob.objects.get(pk=steady.pk))
    assert resumed.trained_tokens == FineTuningJob.objects.get(pk=steady.pk).trained_tokens
