"""OpenAI's Evals API, the store's subset (docs/evaluation.md): an `Eval` (an item schema and testing criteria)
belongs to its creator; each of its runs is a job of kind `evalrun` (jobs.Job, ids "evalrun_..."), whose params name
the eval; each data row of a run becomes one `OutputItem` with its sample and grades."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def eval_id() -> str:
    return f"eval_{secrets.token_hex(12)}"


def output_item_id() -> str:
    return f"outputitem_{secrets.token_hex(12)}"


class Eval(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=eval_id)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, blank=True)
    item_schema = models.JSONField(default=dict)
    include_sample_schema = models.BooleanField(default=False)
    testing_criteria = models.JSONField(default=list)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return self.public_id


class OutputItem(models.Model):
    public_id = models.CharField(max_length=48, unique=True, default=output_item_id)
    run = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="eval_output_items")
    eval = models.ForeignKey(Eval, on_delete=models.CASCADE, related_name="output_items")
    datasource_item_id = models.PositiveIntegerField()
    datasource_item = models.JSONField(default=dict)
    status = models.CharField(max_length=8)  # pass, fail (an item whose call errored fails, with sample.error)
    results = models.JSONField(default=list)
    sample = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "datasource_item_id"], name="one_output_item_per_row")]
        ordering = ["datasource_item_id"]

    def __str__(self) -> str:
        return self.public_id
