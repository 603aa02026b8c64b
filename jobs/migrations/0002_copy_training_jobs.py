"""Copy the fine-tuning jobs (training.FineTuningJob with its events and checkpoints) into the generic jobs.Job, and
the files (training.TrainingFile) into files.File, keeping every id, so public ids, event cursors (ftevent-N) and
checkpoint ids (ftckpt-N) stay valid. training 0005 then drops the old tables."""

from django.core.management.color import no_style
from django.db import migrations

BATCH = 1000


def copy(apps, schema_editor):
    OldFile, File = apps.get_model("training", "TrainingFile"), apps.get_model("files", "File")
    OldJob, Job = apps.get_model("training", "FineTuningJob"), apps.get_model("jobs", "Job")
    OldEvent, Event = apps.get_model("training", "JobEvent"), apps.get_model("jobs", "JobEvent")
    OldCheckpoint, Checkpoint = apps.get_model("training", "JobCheckpoint"), apps.get_model("jobs", "JobCheckpoint")
    JobFile = apps.get_model("jobs", "JobFile")
    same = ("id", "public_id", "owner_id", "filename", "purpose", "blob_id", "format", "examples", "created_at")
    File.objects.bulk_create((File(**{name: getattr(old, name) for name in same}) for old in OldFile.objects.iterator()),
                             batch_size=BATCH)  # fmt: skip
    kept = ("id", "public_id", "owner_id", "base_model_id", "base_commit_id", "base_label", "metadata", "status",
            "error", "held", "total_steps", "step", "result_model_id", "created_at", "started_at", "finished_at",
            "estimated_finish", "cancel_requested", "paused_at", "lease_owner", "lease_expires_at", "attempts")  # fmt: skip
    jobs, links = [], []
    for old in OldJob.objects.iterator():
        jobs.append(Job(
            **{name: getattr(old, name) for name in kept},
            kind="pretrain" if old.method.get("type") == "pretrain" else "finetune", resource_class="any",
            params={"method": old.method, "suffix": old.suffix, "seed": old.seed}, unit="token",
            estimated_units=old.estimated_tokens, units_done=old.trained_tokens, result_label=old.fine_tuned_model,
        ))  # fmt: skip
        links.append(JobFile(job_id=old.id, file_id=old.training_file_id, role="training"))
        if old.validation_file_id:
            links.append(JobFile(job_id=old.id, file_id=old.validation_file_id, role="validation"))
    Job.objects.bulk_create(jobs, batch_size=BATCH)
    JobFile.objects.bulk_create(links, batch_size=BATCH)
    fields = ("id", "job_id", "created_at", "level", "type", "message", "data")
    Event.objects.bulk_create((Event(**{name: getattr(old, name) for name in fields}) for old in OldEvent.objects.iterator()),
                              batch_size=BATCH)  # fmt: skip
    fields = ("id", "job_id", "step_number", "metrics", "commit_id", "created_at")
    Checkpoint.objects.bulk_create(
        (Checkpoint(**{name: getattr(old, name) for name in fields}) for old in OldCheckpoint.objects.iterator()),
        batch_size=BATCH,
    )
    connection = schema_editor.connection
    with connection.cursor() as cursor:  # ids were given: PostgreSQL's sequences must move past them
        for statement in connection.ops.sequence_reset_sql(no_style(), [File, Job, Event, Checkpoint]):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        ("files", "0001_initial"),
        ("training", "0004_file_purposes"),
    ]

    operations = [migrations.RunPython(copy, migrations.RunPython.noop)]
