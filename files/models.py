"""Files uploaded through /v1/files (OpenAI's Files API): training data (`fine-tune`), an eval's items (`evals`) or a
batch's requests (`batch`). A job takes files as inputs (jobs.models.JobFile); its bytes are a blob in the store's
blob storage, and only its owner ever sees it."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def file_id() -> str:
    return f"file-{secrets.token_hex(12)}"


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


class File(models.Model):
    """`examples` is the number of lines (or, for plain text, paragraphs) the file holds, counted at upload."""

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
