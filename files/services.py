"""Files (/v1/files): upload, list, read, delete. A file is checked whole at upload by its purpose's rules; a bad one
is refused with its first problems named by line, and nothing is stored. Only its owner ever sees it, and a file a
job uses cannot be deleted while the job exists."""

from django.conf import settings
from django.db.models import ProtectedError

from accounts.models import User
from core import jsonl_files
from core.exceptions import Conflict, InvalidInput, NotFound, PayloadTooLarge
from engine import datasets
from files.models import File, FileFormat, FilePurpose
from registry import services as registry
from registry.storage import open_blob

MAX_FILENAME = 255


def create_file(*, user: User, filename: str, purpose: str, data: bytes) -> File:
    if purpose not in FilePurpose.values:
        raise InvalidInput(f"purpose must be one of {', '.join(FilePurpose.values)}, got {purpose!r}", param="purpose")
    _check_size(len(data))
    filename = (filename or "").replace("\x00", "").strip()[:MAX_FILENAME] or "upload.jsonl"
    if purpose == FilePurpose.FINE_TUNE:
        parsed = datasets.parse(data)
        file_format, examples, errors = parsed.format, len(parsed.records), parsed.errors
    else:
        check = jsonl_files.check_evals if purpose == FilePurpose.EVALS else jsonl_files.check_batch
        (examples, errors), file_format = check(data), FileFormat.JSONL
    if errors:
        kind = "training" if purpose == FilePurpose.FINE_TUNE else purpose
        raise InvalidInput(f"the {kind} file is not valid: {'; '.join(errors)}", param="file")
    blob = registry.ingest_upload(user=user, incoming_stream=[data], size=len(data))
    return File.objects.create(
        owner=user, filename=filename, purpose=purpose, blob=blob, format=file_format, examples=examples
    )


def input_file(*, user: User, file_id: str, purpose: str, param: str, use: str) -> File:
    """The caller's file as the input `param` of `use` (say "a fine-tuning job"): it must have been uploaded for
    `purpose`."""
    found = get_file(user=user, file_id=file_id)
    if found.purpose != purpose:
        raise InvalidInput(f"{file_id} was uploaded with purpose {found.purpose!r}; {use} needs a file uploaded with "
                           f"purpose {str(purpose)!r}", param=param)  # fmt: skip
    return found


def read_upload(upload) -> bytes:
    """An uploaded file's bytes, refused by its declared size before they are read into memory."""
    if upload.size is not None:
        _check_size(upload.size)
    return upload.read()


def _check_size(size: int) -> None:
    if size > settings.MAX_TRAINING_FILE_BYTES:
        raise PayloadTooLarge(f"the file has {size} bytes, over the limit of {settings.MAX_TRAINING_FILE_BYTES}",
                              param="file")  # fmt: skip


def get_file(*, user: User, file_id: str) -> File:
    """The caller's file, or NotFound (another user's file does not exist for them)."""
    found = File.objects.filter(owner=user, public_id=file_id).select_related("blob").first()
    if found is None:
        raise NotFound(f"No such File object: {file_id}", param="file_id")
    return found


def list_files(*, user: User, purpose: str | None, after: str | None, limit: int, order: str) -> list[File]:
    files = File.objects.filter(owner=user).select_related("blob")
    if purpose:
        files = files.filter(purpose=purpose)
    files = files.order_by("created_at", "id") if order == "asc" else files.order_by("-created_at", "-id")
    if after:
        cursor = get_file(user=user, file_id=after)
        newer = order == "asc"
        files = files.filter(id__gt=cursor.pk) if newer else files.filter(id__lt=cursor.pk)
    return list(files[:limit])


def read_file(*, user: User, file_id: str) -> bytes:
    return read_bytes(get_file(user=user, file_id=file_id))


def read_bytes(file: File) -> bytes:
    """A file's bytes, for the job that takes it as input."""
    with open_blob(file.blob) as handle:
        return handle.read()


def delete_file(*, user: User, file_id: str) -> str:
    found = get_file(user=user, file_id=file_id)
    try:
        found.delete()
    except ProtectedError:
        raise Conflict(f"{file_id} is used by a job and cannot be deleted", param="file_id") from None
    return file_id
