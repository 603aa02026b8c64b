"""Resumable browser uploads: a session per file, chunks appended at the offset the server has, so a dropped
connection resumes where it stopped. A finished file becomes a blob; a commit then names the sessions."""

import os

from django.conf import settings
from django.db import transaction

from accounts.models import User
from core.exceptions import Conflict, InvalidInput, NotFound, PayloadTooLarge, QuotaExceeded
from registry import services
from registry.models import Model, UploadSession
from registry.paths import check_repo_path
from registry.storage import CHUNK_SIZE

MAX_CHUNK_BYTES = 64 * 1024 * 1024


def _part_path(session: UploadSession) -> str:
    folder = os.path.join(settings.UPLOAD_TEMP_DIR, "sessions")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{session.pk}.part")


def start_upload(*, user: User, model: Model, path: str, size: int) -> UploadSession:
    """Open an upload of one file into one of the user's models."""
    check_repo_path(path)
    if not isinstance(size, int) or size < 0:
        raise InvalidInput("size must be a non-negative integer", param="size")
    if size > settings.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"{path} is {size} bytes, over the upload limit of {settings.MAX_UPLOAD_BYTES}")
    user.refresh_from_db(fields=["storage_used_bytes", "storage_quota_bytes"])
    if user.storage_used_bytes + size > user.storage_quota_bytes:
        raise QuotaExceeded(f"storage quota exceeded: {size} more bytes do not fit")
    session = UploadSession.objects.create(owner=user, model=model, path=path, size=size)
    open(_part_path(session), "wb").close()
    return session


def append_chunk(*, session_id: int, user: User, offset: int, stream, length: int) -> UploadSession:
    """Append `length` bytes at `offset`, which must equal what the server already has (else 409 with it)."""
    if length > MAX_CHUNK_BYTES:
        raise PayloadTooLarge(f"chunks are limited to {MAX_CHUNK_BYTES} bytes")
    with transaction.atomic():
        session = UploadSession.objects.select_for_update().filter(pk=session_id, owner=user).first()
        if session is None:
            raise NotFound("no such upload")
        if session.blob_id is not None:
            return session
        if offset != session.received:
            raise Conflict(f"the server has {session.received} bytes; send the chunk at that offset")
        if offset + length > session.size:
            raise InvalidInput(f"chunk runs past the declared size of {session.size} bytes")
        written = 0
        with open(_part_path(session), "r+b") as out:
            out.seek(offset)
            out.truncate()
            while written < length:
                chunk = stream.read(min(CHUNK_SIZE, length - written))
                if not chunk:
                    break
                out.write(chunk)
                written += len(chunk)
        session.received = offset + written
        session.save(update_fields=["received"])
    if session.received == session.size:
        return _finish(session, user)
    return session


def _finish(session: UploadSession, user: User) -> UploadSession:
    path = _part_path(session)

    def chunks():
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    try:
        blob = services.ingest_upload(user=user, incoming_stream=chunks(), size=session.size)
    finally:
        os.unlink(path)
    session.blob = blob
    session.save(update_fields=["blob"])
    return session


def commit_uploads(*, user: User, model: Model, session_ids: list[int], message: str):
    """Commit finished uploads to main in one commit."""
    sessions = list(UploadSession.objects.filter(pk__in=session_ids, owner=user, model=model).select_related("blob"))
    if not sessions or len(sessions) != len(set(session_ids)):
        raise InvalidInput("unknown upload ids", param="uploads")
    unfinished = [s.path for s in sessions if s.blob is None]
    if unfinished:
        raise InvalidInput(f"uploads not finished: {', '.join(unfinished)}", param="uploads")
    operations: list[services.Operation] = [services.AddFile(path=s.path, blob=s.blob) for s in sessions if s.blob]
    commit = services.commit_changes(model_id=model.pk, author=user, operations=operations, message=message)
    UploadSession.objects.filter(pk__in=[s.pk for s in sessions]).delete()
    return commit
