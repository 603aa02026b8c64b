"""A fine-tuning job as OpenAI's fine-tuning API names it: a proxy of the generic job (jobs.models.Job) of kind
`finetune` or `pretrain` (or a compression kind), with that API's words for the job's columns. It has no table of its own."""

import secrets

from django.db import models

from jobs.models import Job, JobQuerySet

COMPRESSION = ("quantize", "prune", "distill")  # compression/kinds.py: created through the same API
KINDS = ("finetune", "pretrain", *COMPRESSION)


def job_id() -> str:  # the default of the table that migration 0005 moved into jobs.Job; migrations 0001-0004 name it
    return f"ftjob-{secrets.token_hex(12)}"


def file_id() -> str:  # likewise for the files table that moved into files.File
    return f"file-{secrets.token_hex(12)}"


class FineTuningJobManager(models.Manager.from_queryset(JobQuerySet)):  # type: ignore[misc]  # a generated base
    def get_queryset(self):
        return super().get_queryset().filter(kind__in=KINDS)


class FineTuningJob(Job):
    objects = FineTuningJobManager()  # type: ignore[misc]  # a proxy narrows its base's manager

    class Meta:
        proxy = True

    @property
    def method(self) -> dict:
        return self.params["method"]

    @property
    def seed(self) -> int:
        return self.params["seed"]

    @property
    def suffix(self) -> str:
        return self.params["suffix"]

    @property
    def trained_tokens(self) -> int:
        return self.units_done

    @property
    def estimated_tokens(self) -> int:
        return self.estimated_units

    @property
    def fine_tuned_model(self) -> str:
        return self.result_label

    @property
    def training_file(self):
        return self.input("training")

    @property
    def validation_file(self):
        return self.input("validation")
