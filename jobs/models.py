"""One row for every kind of long work (fine-tuning, pretraining, and the kinds to come). A job is a row, not a broker
message: a worker of the job's resource class claims it with a lease (a conditional update) and renews the lease with a
heartbeat; the Celery message only says "look for work" (docs/training.md). What a kind does lives in its module
(jobs/kinds.py is the registry); this row holds what every kind shares."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ResourceClass(models.TextChoices):
    """The hardware a job needs, which decides the queue that wakes its workers (jobs/queues.py)."""

    CPU = "cpu"
    GPU = "gpu"
    ANY = "any"


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


class Job(models.Model):
    public_id = models.CharField(max_length=40, unique=True, help_text="The kind's prefix, 'job-' and 24 hex digits")
    kind = models.CharField(max_length=32, help_text="The registered kind that runs it (jobs/kinds.py)")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    resource_class = models.CharField(max_length=8, choices=ResourceClass.choices, default=ResourceClass.CPU)
    base_model = models.ForeignKey("registry.Model", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    base_commit = models.ForeignKey("registry.Commit", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", help_text="The commit it starts from; empty from scratch")  # fmt: skip
    base_label = models.CharField(max_length=200, blank=True, help_text="owner/name@sha of the base, or 'scratch'")
    params = models.JSONField(default=dict, blank=True, help_text="The kind's parameters, checked and resolved")
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.JSONField(null=True, blank=True)
    unit = models.CharField(max_length=16, default="token", help_text="What the kind charges per: token, second")
    estimated_units = models.BigIntegerField(default=0, help_text="What the hold was priced on")
    units_done = models.BigIntegerField(default=0, help_text="What it charges for: tokens trained, seconds run")
    held = models.BigIntegerField(default=0, help_text="Micro-credits held on the wallet for this job")
    total_steps = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    result_model = models.ForeignKey("registry.Model", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")  # fmt: skip
    result_label = models.CharField(max_length=200, blank=True, help_text="owner/name of what it made")
    result = models.JSONField(null=True, blank=True, help_text="The kind's summary of what it produced")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    estimated_finish = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True, help_text="When the owner paused it (jobs/reaper.py)")
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "created_at"]),
            models.Index(fields=["status", "resource_class", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def input(self, role: str):
        """The job's input file in `role` ("training", "validation", ...), or None; reads prefetched inputs."""
        return next((link.file for link in self.inputs.all() if link.role == role), None)


class JobFile(models.Model):
    """A file a job reads (`training`, `validation`, `evals`, ...): while the job exists, the file cannot be deleted."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="inputs")
    file = models.ForeignKey("files.File", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "role"], name="job_file_unique_role")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.role}: {self.file_id}"


class EventLevel(models.TextChoices):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class JobEvent(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
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
    """What a job made at a step: a commit of its result model, tagged ckpt-step-N."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="checkpoints")
    step_number = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict)
    commit = models.ForeignKey("registry.Commit", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-step_number"]
        constraints = [models.UniqueConstraint(fields=["job", "step_number"], name="job_checkpoint_unique_step")]

    def __str__(self) -> str:
        return f"{self.job_id} @ step {self.step_number}"
