"""Training files (datasets) and fine-tuning jobs. A job is a row, not a broker message: a train worker claims it
with a lease (a conditional update) and extends the lease with a heartbeat; the Celery message only says "look for
work" (docs/training.md)."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def file_id() -> str:
    return f"file-{secrets.token_hex(12)}"


def job_id() -> str:
    return f"ftjob-{secrets.token_hex(12)}"


class FilePurpose(models.TextChoices):
    FINE_TUNE = "fine-tune"
    EVALS = "evals"
    BATCH = "batch"


class FileFormat(models.TextChoices):
    TEXT = "text", '{"text": ...} lines'
    PROMPT_COMPLETION = "prompt_completion", '{"prompt": ..., "completion": ...} lines'
    MESSAGES = "messages", '{"messages": [...]} lines'
    PLAIN = "plain", "plain UTF-8 text (a pretraining corpus)"
    JSONL = "jsonl", "JSON object lines (an evals or batch file)"


class TrainingFile(models.Model):
    """A file uploaded through /v1/files: training data (`fine-tune`), an eval's items (`evals`) or a batch's
    requests (`batch`). Its bytes are a blob in the store's blob storage; only its owner sees it. `examples` is the
    number of lines (or, for plain text, paragraphs) it holds."""

    public_id = models.CharField(max_length=40, unique=True, default=file_id)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    purpose = models.CharField(max_length=16, choices=FilePurpose.choices, default=FilePurpose.FINE_TUNE)
    blob = models.ForeignKey("registry.Blob", on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=20, choices=FileFormat.choices)
    examples = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.filename})"

    @property
    def bytes(self) -> int:
        return self.blob.size


class JobStatus(models.TextChoices):
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobQuerySet(models.QuerySet):
    def claimable(self, *, now) -> "JobQuerySet":
        """Queued jobs, and running ones whose worker stopped renewing its lease."""
        return self.filter(Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now))


class FineTuningJob(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=job_id)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    base_model = models.ForeignKey("registry.Model", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   help_text="Empty when pretraining from scratch")  # fmt: skip
    base_commit = models.ForeignKey("registry.Commit", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")  # fmt: skip
    base_label = models.CharField(max_length=200, help_text="owner/name@sha of the base, or 'scratch'")
    training_file = models.ForeignKey(TrainingFile, on_delete=models.PROTECT, related_name="+")
    validation_file = models.ForeignKey(TrainingFile, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")  # fmt: skip
    method = models.JSONField(help_text="The method as resolved: type and numeric hyperparameters")
    suffix = models.CharField(max_length=64, blank=True)
    seed = models.BigIntegerField()
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.JSONField(null=True, blank=True)
    estimated_tokens = models.BigIntegerField(help_text="Tokens to train: dataset tokens × epochs")
    trained_tokens = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0, help_text="Micro-credits held on the wallet for this job")
    total_steps = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    result_model = models.ForeignKey("registry.Model", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")  # fmt: skip
    fine_tuned_model = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    estimated_finish = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True, help_text="When the owner paused it (reaper.py)")
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "created_at"]), models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class EventLevel(models.TextChoices):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class JobEvent(models.Model):
    job = models.ForeignKey(FineTuningJob, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=EventLevel.choices, default=EventLevel.INFO)
    type = models.CharField(max_length=16, default="message")  # "message" or "metrics"
    message = models.TextField()
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.message[:60]}"


class JobCheckpoint(models.Model):
    """The model at the end of an epoch: a commit of the result model, tagged ckpt-step-N."""

    job = models.ForeignKey(FineTuningJob, on_delete=models.CASCADE, related_name="checkpoints")
    step_number = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict)
    commit = models.ForeignKey("registry.Commit", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-step_number"]
        constraints = [models.UniqueConstraint(fields=["job", "step_number"], name="checkpoint_unique_step")]

    def __str__(self) -> str:
        return f"{self.job_id} @ step {self.step_number}"
