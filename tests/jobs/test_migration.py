"""Fine-tuning jobs and files written before the generic job system move into it whole (jobs migration 0002): every
id is kept, so public ids, event cursors (ftevent-N) and checkpoint ids stay valid, and new rows get new ids after
them on PostgreSQL."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from files.models import File
from jobs.models import Job, JobCheckpoint, JobEvent
from registry import services as registry
from tests.conftest import commit_valid_checkpoint
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("training", "0004_file_purposes"), ("jobs", None), ("files", None)]  # before the generic jobs
METHOD = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 1,
                                                                   "learning_rate_multiplier": 1.0}}}  # fmt: skip
PRETRAIN = {"type": "pretrain", "pretrain": {"preset": "tiny", "vocab_size": 400, "seq_len": 64,
                                             "hyperparameters": {"n_epochs": 1, "batch_size": 1,
                                                                 "learning_rate_multiplier": 1.0}}}  # fmt: skip


def test_jobs_files_events_and_checkpoints_move_with_their_ids(provider, tiny_checkpoint):
    base = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)
    blob = registry.ingest_upload(user=provider, incoming_stream=[b'{"text": "a"}\n'], size=14)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state([("training", "0004_file_purposes")]).apps
    OldFile, OldJob = old.get_model("training", "TrainingFile"), old.get_model("training", "FineTuningJob")
    train = OldFile.objects.create(id=40, public_id="file-train", owner_id=provider.pk, filename="t.jsonl",
                                   purpose="fine-tune", blob_id=blob.pk, format="text", examples=1)  # fmt: skip
    valid = OldFile.objects.create(id=41, public_id="file-valid", owner_id=provider.pk, filename="v.jsonl",
                                   purpose="fine-tune", blob_id=blob.pk, format="text", examples=1)  # fmt: skip
    finished = timezone.now() - dt.timedelta(hours=1)
    tuned = OldJob.objects.create(
        id=7, public_id="ftjob-tuned", owner_id=provider.pk, base_model_id=base.model_id, base_commit_id=base.pk,
        base_label=f"alice/tiny-gpt@{base.sha}", training_file_id=train.pk, validation_file_id=valid.pk,
        method=METHOD, suffix="x", seed=3, metadata={"team": "a"}, status="succeeded", estimated_tokens=90,
        trained_tokens=80, held=0, total_steps=4, step=4, fine_tuned_model="alice/tiny-gpt-ft-x",
        finished_at=finished, attempts=1,
    )  # fmt: skip
    OldJob.objects.create(id=8, public_id="ftjob-scratch", owner_id=provider.pk, base_label="scratch",
                          training_file_id=train.pk, method=PRETRAIN, suffix="", seed=4, estimated_tokens=30,
                          status="paused", attempts=1)  # fmt: skip
    old.get_model("training", "JobEvent").objects.create(id=300, job_id=tuned.pk, message="Fine-tuning started")
    old.get_model("training", "JobCheckpoint").objects.create(id=50, job_id=tuned.pk, step_number=4,
                                                              metrics={"step": 4}, commit_id=base.pk)  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    moved = FineTuningJob.objects.get(public_id="ftjob-tuned")
    assert (moved.pk, moved.kind, moved.status, moved.base_commit_id, moved.resource_class) == (7, "finetune",
                                                                                                 "succeeded", base.pk, "any")  # fmt: skip
    assert (moved.method, moved.seed, moved.suffix, moved.metadata) == (METHOD, 3, "x", {"team": "a"})
    assert (moved.estimated_tokens, moved.trained_tokens, moved.fine_tuned_model) == (90, 80, "alice/tiny-gpt-ft-x")
    assert (moved.training_file.public_id, moved.validation_file.public_id) == ("file-train", "file-valid")
    assert (moved.finished_at, moved.unit) == (finished, "token")
    scratch = FineTuningJob.objects.get(public_id="ftjob-scratch")
    assert (scratch.pk, scratch.kind, scratch.status, scratch.validation_file) == (8, "pretrain", "paused", None)
    assert list(JobEvent.objects.values_list("id", "job_id", "message")) == [(300, 7, "Fine-tuning started")]
    assert list(JobCheckpoint.objects.values_list("id", "job_id", "step_number", "commit_id")) == [(50, 7, 4, base.pk)]
    assert list(File.objects.order_by("id").values_list("id", "public_id")) == [(40, "file-train"), (41, "file-valid")]
    newer = File.objects.create(owner=provider, filename="n.jsonl", blob=blob, format="text", examples=1)
    event = JobEvent.objects.create(job=Job.objects.get(pk=8), message="Job resumed")
    assert (newer.pk > 41, event.pk > 300) == (True, True)
