"""A train worker killed mid-epoch: its job's lease expires, a new worker claims it and resumes from the last
complete state (weights, optimizer, RNGs, data position), and the result equals an uninterrupted run with the
same seed, byte for byte. Pause and resume go through the same state."""

import json
import os
import signal

import pytest
from django.conf import settings
from django.utils import timezone

from files import services as files
from jobs import queues
from jobs.models import JobStatus
from marketplace.money import MICRO
from marketplace.services import ledger
from marketplace.services.job_charges import training_cost
from registry.models import Commit
from tests.conftest import commit_valid_checkpoint, start_worker_process, wait_until
from training import jobs
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db(transaction=True)
WORDS = [
    "the",
    "model",
    "learns",
    "to",
    "continue",
    "these",
    "lines",
    "of",
    "text",
    "about",
    "python",
    "and",
    "its",
    "documentation",
]


@pytest.fixture(scope="module")
def wider_checkpoint(tmp_path_factory):
    """A GPT-2 wide enough that a training step takes tens of milliseconds: a worker can be killed mid-epoch."""
    from engine.pretrain import GPTShape, build_gpt2, pretrain_corpus_sample, save_checkpoint, train_tokenizer

    tokenizer = train_tokenizer(pretrain_corpus_sample(), vocab_size=512)
    model = build_gpt2(tokenizer, GPTShape(n_layer=4, n_head=4, n_embd=256, n_positions=128))
    return save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("wider") / "ckpt")


@pytest.fixture
def dataset(provider, wider_checkpoint):
    commit_valid_checkpoint(provider, "wider", wider_checkpoint, context_length=128)
    ledger.top_up(user=provider, amount=100 * MICRO)
    lines = [json.dumps({"text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(60))}) for i in range(48)]
    return files.create_file(user=provider, filename="d.jsonl", purpose="fine-tune", data="\n".join(lines).encode())


def start(provider, dataset, suffix: str) -> FineTuningJob:
    return jobs.create_job(user=provider, api_key=None, model="alice/wider", training_file=dataset.public_id,
                           suffix=suffix, seed=11, hyperparameters={"n_epochs": 2, "batch_size": 4})  # fmt: skip


def worker(tmp_path, name: str):
    os.environ.update(JOB_LEASE_SECONDS="3", CHECKPOINT_EVERY_STEPS="3")  # read by the worker processes only
    return start_worker_process("-Q", settings.JOB_QUEUES["cpu"], "-P", "solo", log_path=tmp_path / f"{name}.log")


def final_weights(job: FineTuningJob) -> str:
    job.refresh_from_db()
    head = Commit.objects.filter(model=job.result_model).order_by("-id").first()
    return head.files.get(path="model.safetensors").blob.sha256


def wait_for(job: FineTuningJob, condition, timeout: float = 180) -> None:
    wait_until(lambda: condition(FineTuningJob.objects.get(pk=job.pk)), timeout=timeout)


@pytest.fixture
def clean_env():
    yield
    for name in ("JOB_LEASE_SECONDS", "CHECKPOINT_EVERY_STEPS", "MAX_JOB_ATTEMPTS"):
        os.environ.pop(name, None)


def steady_then_killed(start_job, tmp_path, *, killed_at_step: int) -> tuple[FineTuningJob, FineTuningJob]:
    """Run `start_job("steady")` to its end with one worker, then `start_job("killed")` with its worker SIGKILLed
    once it is at step `killed_at_step`, and another worker taking it over once the dead one's lease ran out.
    Both jobs, reloaded."""
    steady = start_job("steady")
    process = worker(tmp_path, "steady")
    try:
        wait_for(steady, lambda job: job.status == JobStatus.SUCCEEDED)
    finally:
        process.terminate()
        process.wait(timeout=30)

    killed = start_job("killed")
    first = worker(tmp_path, "first")
    try:
        wait_for(killed, lambda job: job.step >= killed_at_step)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert FineTuningJob.objects.get(pk=killed.pk).status == JobStatus.RUNNING  # nobody finished it
    second = worker(tmp_path, "second")
    try:
        wait_for(killed, lambda job: job.lease_expires_at < timezone.now())  # the dead worker's lease ran out
        queues.ask_for_work("cpu")  # what beat's look-for-job-work sends every 30 s
        wait_for(killed, lambda job: job.status == JobStatus.SUCCEEDED)
    finally:
        second.terminate()
        second.wait(timeout=30)
    return FineTuningJob.objects.get(pk=steady.pk), FineTuningJob.objects.get(pk=killed.pk)


def test_a_killed_worker_is_replaced_and_the_job_ends_as_if_never_interrupted(provider, dataset, tmp_path, clean_env):
    # mid-epoch: 12 steps an epoch, state every 3
    steady, resumed = steady_then_killed(lambda suffix: start(provider, dataset, suffix), tmp_path, killed_at_step=10)
    assert resumed.attempts == 2
    started = [e.message for e in resumed.events.order_by("id") if e.message.startswith("Fine-tuning started")]
    assert started == ["Fine-tuning started", "Fine-tuning started (attempt 2)"]
    assert resumed.events.filter(message="Worker lost, retrying (attempt 2)").count() == 1
    assert final_weights(resumed) == final_weights(steady)
    assert resumed.trained_tokens == steady.trained_tokens


def test_a_job_whose_workers_keep_dying_fails_with_worker_lost_and_settles(provider, dataset, tmp_path, clean_env):
    os.environ["MAX_JOB_ATTEMPTS"] = "2"
    doomed = start(provider, dataset, "doomed")
    for attempt, step in ((1, 10), (2, 20)):
        process = worker(tmp_path, f"doomed-{attempt}")
        try:
            if attempt > 1:
                queues.ask_for_work("cpu")
            wait_for(doomed, lambda job, attempt=attempt, step=step: job.attempts == attempt and job.step >= step)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        wait_for(doomed, lambda job: job.lease_expires_at < timezone.now())
    last = worker(tmp_path, "doomed-3")
    try:
        queues.ask_for_work("cpu")
        wait_for(doomed, lambda job: job.status == JobStatus.FAILED)
    finally:
        last.terminate()
        last.wait(timeout=30)

    failed = FineTuningJob.objects.get(pk=doomed.pk)
    assert failed.error["code"] == "worker_lost"
    assert failed.error["message"] == "the job's worker stopped 2 times; it was given up"
    assert failed.trained_tokens > 0
    wallet = ledger.account_for(provider.pk, "wallet")
    assert wallet.held == 0  # the rest of the hold went back
    assert wallet.balance == 100 * MICRO - training_cost(failed.trained_tokens)
