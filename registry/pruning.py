"""Dropping a commit from a model's history, with the blobs only it held: how a fine-tune keeps its last three
epoch checkpoints. A commit a branch or tag points at is never dropped; its child is re-linked to its parent; a
blob that any other file, upload session or dataset still uses stays, and the bytes dropped go back to the owner's
storage quota."""

import functools
import logging

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from accounts import services as accounts
from core.exceptions import Conflict
from registry.models import Blob, BlobGrant, Commit, FileEntry, Ref, UploadSession

logger = logging.getLogger(__name__)


def drop_commit(*, commit_id: int) -> int:
    """Remove a commit nothing points at; returns the bytes of the blobs removed with it."""
    with transaction.atomic():
        commit = Commit.objects.select_for_update().get(pk=commit_id)
        if Ref.objects.filter(commit=commit).exists():
            raise Conflict(f"commit {commit.sha[:12]} is a branch head or tagged: it stays")
        Commit.objects.filter(parent=commit).update(parent=commit.parent_id)
        blob_ids = set(FileEntry.objects.filter(commit=commit).values_list("blob_id", flat=True))
        FileEntry.objects.filter(commit=commit).delete()
        commit.delete()
        freed = _drop_unused_blobs(blob_ids, owner_id=commit.author_id)
    return freed


def _drop_unused_blobs(blob_ids: set[int], *, owner_id: int) -> int:
    used = set(FileEntry.objects.filter(blob_id__in=blob_ids).values_list("blob_id", flat=True))
    used |= set(UploadSession.objects.filter(blob_id__in=blob_ids).values_list("blob_id", flat=True))
    freed = 0
    for blob in Blob.objects.filter(pk__in=blob_ids - used):
        try:
            with transaction.atomic():
                BlobGrant.objects.filter(blob=blob).delete()
                blob.delete()
        except (ProtectedError, IntegrityError):  # another app (a dataset) still holds it
            continue
        freed += blob.size
        transaction.on_commit(functools.partial(_delete_stored, blob.storage_key))
    if freed:
        accounts.release_storage(user_id=owner_id, size=freed)
    return freed


def _delete_stored(key: str) -> None:
    try:
        default_storage.delete(key)
    except OSError:  # the row is gone; a leftover file is only space, swept by an operator
        logger.warning("could not delete %s from storage", key)
