"""The registry: Model -> Commit (40-hex sha, parent) -> FileEntry -> Blob (sha256, content-addressed).

Branches and tags are Refs pointing at commits. A commit holds its whole tree (one FileEntry per path), so
reading any revision is one query, and blobs are shared across commits and models."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

MODEL_NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?\Z"  # \Z: $ also matches before a final newline
model_name_validator = RegexValidator(
    MODEL_NAME_PATTERN, "Use 1-96 letters, digits, '-', '_' or '.', starting and ending with a letter or digit."
)
DEFAULT_BRANCH = "main"


class ModelQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ModelQuerySet":
        """Public models, plus the caller's own private ones. Everything else does not exist for them."""
        if user is not None and user.is_authenticated:
            return self.filter(Q(is_private=False) | Q(owner=user))
        return self.filter(is_private=False)

    def by_id(self, namespace: str, name: str) -> "ModelQuerySet":
        return self.filter(owner__username=namespace, name=name)


class Model(models.Model):
    """A model repository, `owner/name`. Its card is the README.md at the head of `main`."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=96, validators=[model_name_validator])
    is_private = models.BooleanField(default=False)
    description = models.CharField(max_length=300, blank=True, help_text="One line, shown under the name.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # What HF tools read of the head of main, kept with each commit there (registry/hub_metadata.py)
    card_data = models.JSONField(default=dict, blank=True, help_text="The card's YAML front matter, as JSON.")
    config_summary = models.JSONField(default=dict, blank=True, help_text="config.json's architectures, model_type.")

    objects = ModelQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="model_unique_owner_name")]
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.repo_id

    @property
    def repo_id(self) -> str:
        return f"{self.owner.username}/{self.name}"

    def is_visible_to(self, user) -> bool:
        """The rule of ModelQuerySet.visible_to, for a model already in hand."""
        return not self.is_private or (user is not None and user.is_authenticated and user.pk == self.owner_id)


class Blob(models.Model):
    """Content-addressed bytes in storage. The key is derived from the sha256, never from a client's path."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.sha256

    @property
    def storage_key(self) -> str:
        return blob_storage_key(self.sha256)


def blob_storage_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class ValidationStatus(models.TextChoices):
    PENDING = "pending"
    VALIDATING = "validating"
    VALID = "valid"
    INVALID = "invalid"


class BaseRelation(models.TextChoices):
    """How a commit derives from its base commit: HF Hub's `base_model_relation` values, and the store's own."""

    FINETUNE = "finetune"
    ADAPTER = "adapter"
    MERGE = "merge"
    QUANTIZED = "quantized"
    PRETRAIN = "pretrain"  # trained from scratch: no base commit
    PRUNED = "pruned"
    DISTILLED = "distilled"


class Commit(models.Model):
    """An immutable snapshot of a model's files, with its validation state. `parent` is the previous commit on its
    branch (its history); `base_commit` and `base_relation` say which commit, of any model, it was derived from by a
    job (its lineage: registry/lineage.py walks it)."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="commits")
    sha = models.CharField(max_length=40, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    message = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commits")
    lineage = models.JSONField(
        default=dict, blank=True, help_text="Where a trained commit came from: parent sha, data sha256, job, metrics"
    )
    base_commit = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived_commits",
        help_text="The commit this one was derived from (fine-tuned, quantized...); `lineage` keeps its sha",
    )  # fmt: skip
    base_relation = models.CharField(max_length=16, choices=BaseRelation.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    validation_status = models.CharField(
        max_length=16, choices=ValidationStatus.choices, default=ValidationStatus.PENDING
    )
    validation_error = models.TextField(blank=True)
    validation_report = models.JSONField(default=dict, blank=True)
    validation_started_at = models.DateTimeField(null=True, blank=True)
    validation_task_id = models.CharField(max_length=64, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["validation_status", "validation_started_at"])]

    def __str__(self) -> str:
        return f"{self.model_id}@{self.sha[:8]}"


class RefKind(models.TextChoices):
    BRANCH = "branch"
    TAG = "tag"


class Ref(models.Model):
    """A branch or tag name pointing at a commit."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="refs")
    kind = models.CharField(max_length=8, choices=RefKind.choices)
    name = models.CharField(max_length=100)
    commit = models.ForeignKey(Commit, on_delete=models.PROTECT, related_name="refs")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "kind", "name"], name="ref_unique_name")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class FileEntry(models.Model):
    """One path in one commit's tree."""

    commit = models.ForeignKey(Commit, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=255)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="entries")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["commit", "path"], name="file_unique_path")]
        ordering = ["path"]

    def __str__(self) -> str:
        return self.path


class BlobGrant(models.Model):
    """A user uploaded these bytes, so they may reference the blob by sha256 in their commits.

    Knowing a sha256 is not enough to claim a blob: that would let anyone copy a private file into their repo."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blob_grants")
    blob = models.ForeignKey(Blob, on_delete=models.CASCADE, related_name="grants")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "blob"], name="blob_grant_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} may use {self.blob_id}"


class UploadSession(models.Model):
    """A resumable browser upload of one file: chunks land at their offset until the file is complete."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_sessions")
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="upload_sessions")
    path = models.CharField(max_length=255)
    size = models.BigIntegerField()
    received = models.BigIntegerField(default=0)
    blob = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.path} ({self.received}/{self.size})"


class ModelTag(models.Model):
    """A tag of the head of a model's main branch, as HF Hub derives them (the card's tags, license, languages,
    base model, and the library's): what list_models filters by."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=100, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="model_tag_unique")]

    def __str__(self) -> str:
        return self.name


class DownloadDay(models.Model):
    """Downloads of a model on one day (UTC), counted as HF Hub counts them: each GET or HEAD of its top-level
    config.json, which every from_pretrained and snapshot_download makes once."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="download_days")
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "day"], name="download_day_unique")]

    def __str__(self) -> str:
        return f"{self.day}: {self.count}"


# The CAS's tables live in registry/xet/models.py; imported here so that Django finds them with the app's.
from registry.xet.models import XetChunk, XetCounter, XetFile, XetToken, Xorb  # noqa: E402, F401
