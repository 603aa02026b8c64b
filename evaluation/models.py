"""What the store measured of a commit: one `Evaluation` per (commit, data set, method), written by the `evaluate`
job kind (evaluation/kinds.py) when it has run, and written again, not added, when the owner asks for another run.
The standard set's row carries the speed and footprint figures too. docs/evaluation.md says what each metric is."""

from django.db import models
from django.utils import timezone

METHOD_VERSION = "1"  # rolling log-likelihood as lm-eval 0.4 computes it; the forms and templates of engine/evalfiles


class EvaluationStatus(models.TextChoices):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DatasetKind(models.TextChoices):
    STANDARD = "standard", "the store's standard set"
    PROVIDER = "provider", "an evals/ file of the commit"


class EvaluationQuerySet(models.QuerySet):
    def standard(self, standard):
        """Results on this version of the standard set (another version's never compare)."""
        return self.filter(dataset_kind=DatasetKind.STANDARD, dataset_name=standard.name,
                           dataset_version=standard.version, dataset_sha256=standard.sha256)  # fmt: skip


class Evaluation(models.Model):
    commit = models.ForeignKey("registry.Commit", on_delete=models.CASCADE, related_name="evaluations")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dataset_kind = models.CharField(max_length=16, choices=DatasetKind.choices)
    dataset_name = models.CharField(max_length=200)  # the set's name, or the file's path in the commit
    dataset_version = models.CharField(max_length=40, blank=True)  # the standard set's; a file's is its sha256
    dataset_sha256 = models.CharField(max_length=64)
    form = models.CharField(max_length=16)  # text, generation, choice, tagging (engine/evalfiles.FORMS)
    method_version = models.CharField(max_length=16, default=METHOD_VERSION)
    status = models.CharField(max_length=16, choices=EvaluationStatus.choices)
    verified = models.BooleanField(default=True)  # the store ran it; a card's model-index figures are "claimed"
    device = models.CharField(max_length=200, blank=True)
    duration_seconds = models.FloatField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    reports = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["commit", "dataset_kind", "dataset_name", "dataset_sha256", "method_version"],
            name="one_evaluation_per_commit_set_method")]  # fmt: skip
        indexes = [models.Index(fields=["dataset_kind", "dataset_name", "dataset_version", "status"])]

    def __str__(self) -> str:
        return f"{self.commit_id} on {self.dataset_name}: {self.status}"

    @property
    def dataset(self) -> dict:
        return {"name": self.dataset_name, "version": self.dataset_version, "sha256": self.dataset_sha256,
                "kind": self.dataset_kind}  # fmt: skip
