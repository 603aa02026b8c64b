"""What the store's CAS keeps: its access tokens (hashes only), the xorbs it holds, the chunks a global dedupe query
can find, and each file a shard registered, with the blob its bytes became."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class XetScope(models.TextChoices):
    READ = "read"
    WRITE = "write"


class XetToken(models.Model):
    """A CAS access token: short-lived, for one repository and ref, stored as the sha256 of its text. A read token
    of a public repository may be anonymous (no user)."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="xet_tokens")
    model = models.ForeignKey("registry.Model", on_delete=models.CASCADE, related_name="xet_tokens")
    revision = models.CharField(max_length=255)
    scope = models.CharField(max_length=8, choices=XetScope.choices)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "registry"

    def __str__(self) -> str:
        return f"{self.scope} token for {self.model_id}@{self.revision}"


class Xorb(models.Model):
    """A xorb as a client sent it (chunks only), in storage under its hash, with where each chunk lies."""

    hash = models.CharField(max_length=64, unique=True)
    stored_bytes = models.BigIntegerField()
    raw_bytes = models.BigIntegerField()
    chunk_hashes = models.BinaryField()  # 32 bytes per chunk
    chunk_ends = models.BinaryField()  # per chunk, u32 end in the serialized bytes and u32 end in the raw bytes
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "registry"

    def __str__(self) -> str:
        return self.hash

    @property
    def storage_key(self) -> str:
        return f"xet/xorbs/{self.hash[:2]}/{self.hash}"


class XetChunk(models.Model):
    """A chunk the global dedupe query finds: the first of each file, and those whose hash is 0 mod 1024."""

    hash = models.CharField(max_length=64, db_index=True)
    xorb = models.ForeignKey(Xorb, on_delete=models.CASCADE, related_name="dedupe_chunks")
    index = models.PositiveIntegerField()

    class Meta:
        app_label = "registry"
        constraints = [models.UniqueConstraint(fields=["xorb", "index"], name="xet_chunk_unique")]

    def __str__(self) -> str:
        return self.hash


class XetFile(models.Model):
    """A file a shard registered: its Xet hash, its terms (xorb, first chunk, end chunk, raw bytes) and its blob."""

    file_hash = models.CharField(max_length=64, unique=True)
    blob = models.ForeignKey("registry.Blob", on_delete=models.PROTECT, related_name="xet_files")
    terms = models.JSONField()
    xorbs = models.ManyToManyField(Xorb, related_name="files")  # what a dedupe hit in one of them also offers
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "registry"

    def __str__(self) -> str:
        return self.file_hash


class XetCounter(models.Model):
    """Running totals of CAS traffic (bytes of xorbs received, xorbs stored, files registered, dedupe answers)."""

    name = models.CharField(max_length=40, unique=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        app_label = "registry"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
