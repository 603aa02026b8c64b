"""Blob storage through Django's storage API. Bytes arrive as a stream, are hashed while a second thread writes them
to a temporary file (the two overlap: hashlib and file writes both let go of the GIL), then moved under a key made
from their sha256 (a rename on the local filesystem)."""

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from core.exceptions import InvalidInput, PayloadTooLarge
from registry.models import Blob, XetFile, blob_storage_key
from registry.xet.reader import open_file as open_xet_file

CHUNK_SIZE = 1024 * 1024


class _MovableFile(File):
    """A finished temporary file; FileSystemStorage moves it into place instead of copying it."""

    def temporary_file_path(self) -> str:
        assert self.name is not None  # made from a named temporary file
        return self.name


@dataclass
class IncomingFile:
    """Bytes received and hashed, not yet a Blob."""

    path: str
    sha256: str
    size: int

    def discard(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)


def _temp_dir() -> str:
    path = str(settings.UPLOAD_TEMP_DIR)
    os.makedirs(path, exist_ok=True)
    return path


def receive_stream(chunks: Iterable[bytes], *, max_bytes: int, expected_size: int | None = None) -> IncomingFile:
    """Write a stream to a temporary file while hashing it. Refuse more than max_bytes, or a size mismatch."""
    digest = hashlib.sha256()
    size = 0
    handle, path = tempfile.mkstemp(dir=_temp_dir(), prefix="in-")
    try:
        with os.fdopen(handle, "wb") as out, ThreadPoolExecutor(1, thread_name_prefix="blob-write") as writer:
            pending: Future | None = None
            for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"upload is larger than the limit of {max_bytes} bytes")
                written = writer.submit(out.write, chunk)  # the disk writes this chunk while it is hashed
                digest.update(chunk)  # hashlib lets go of the GIL for a chunk this size
                if pending is not None:
                    pending.result()
                pending = written
            if pending is not None:
                pending.result()
        if expected_size is not None and size != expected_size:
            raise InvalidInput(f"expected {expected_size} bytes, received {size}")
    except BaseException:
        os.unlink(path)
        raise
    return IncomingFile(path=path, sha256=digest.hexdigest(), size=size)


def receive_bytes(data: bytes) -> IncomingFile:
    return receive_stream([data], max_bytes=len(data))


def read_request_body(request, *, length: int, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a request body in chunks without buffering it in memory."""
    remaining = length
    while remaining > 0:
        chunk = request.read(min(chunk_size, remaining))
        if not chunk:
            raise InvalidInput(f"request body ended {remaining} bytes early")
        remaining -= len(chunk)
        yield chunk


def store_blob(incoming: IncomingFile) -> Blob:
    """Turn received bytes into a Blob, deduplicated by sha256. The temporary file is consumed."""
    key = blob_storage_key(incoming.sha256)
    try:
        existing = Blob.objects.filter(sha256=incoming.sha256).first()
        if existing is not None and default_storage.exists(key):
            return existing
        if not default_storage.exists(key):
            with open(incoming.path, "rb") as handle:
                saved = default_storage.save(key, _MovableFile(handle, name=incoming.path))
            if saved != key:  # another upload stored the same bytes first; keep one copy
                default_storage.delete(saved)
        try:
            with transaction.atomic():
                blob, _ = Blob.objects.get_or_create(sha256=incoming.sha256, defaults={"size": incoming.size})
        except IntegrityError:
            blob = Blob.objects.get(sha256=incoming.sha256)
        return blob
    finally:
        incoming.discard()


def open_blob(blob: Blob):
    """The blob's bytes: its file in storage, or, for a file uploaded through Xet, its chunks (registry/xet/)."""
    held_as_chunks = _xet_file(blob)
    if held_as_chunks is not None:
        return open_xet_file(held_as_chunks)
    return default_storage.open(blob.storage_key, "rb")


def blob_local_path(blob: Blob) -> str | None:
    """The blob's path on local disk when storage is a filesystem and holds it as one file, else None."""
    if _xet_file(blob) is not None:
        return None
    try:
        return default_storage.path(blob.storage_key)
    except NotImplementedError:
        return None


def _xet_file(blob: Blob) -> XetFile | None:
    """The Xet file whose chunks are the only copy of this blob's bytes, if that is how the store holds it."""
    if default_storage.exists(blob.storage_key):
        return None
    return XetFile.objects.filter(blob=blob).first()
