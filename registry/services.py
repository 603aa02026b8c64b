"""State changes in the registry: models, commits, refs and validation state. Everything writes through here."""

import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from accounts import services as accounts
from accounts.models import User
from core.exceptions import Conflict, InvalidInput, PayloadTooLarge
from registry import cards, hub_metadata, page_cache, tasks
from registry.exceptions import EntryNotFound, RepoExists, RepoNotFound, RevisionNotFound, StaleParent
from registry.models import (
    DEFAULT_BRANCH,
    Blob,
    BlobGrant,
    Commit,
    FileEntry,
    Model,
    Ref,
    RefKind,
    ValidationStatus,
    model_name_validator,
)
from registry.paths import check_repo_path
from registry.policy import download_policy, is_weights_file
from registry.storage import receive_stream, store_blob

SHA_LENGTH = 40
_ID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,149}")  # a namespace (username) or a model name, loosely
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddFile:
    path: str
    blob: Blob


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


Operation = AddFile | DeleteFile | DeleteFolder


def create_model(*, owner: User, name: str, is_private: bool = False) -> Model:
    """Create an empty model repository `owner/name`. Its first commit creates the `main` branch."""
    try:
        model_name_validator(name)
    except ValidationError as exc:
        raise InvalidInput(f"invalid model name {name!r}: {exc.messages[0]}", param="name") from None
    try:
        with transaction.atomic():
            return Model.objects.create(owner=owner, name=name, is_private=is_private)
    except IntegrityError:
        raise RepoExists(f"You already created this model repo: {owner.username}/{name}") from None


def set_visibility(*, model_id: int, is_private: bool) -> Model:
    """Make a model public or private."""
    with transaction.atomic():
        model = Model.objects.select_for_update().get(pk=model_id)
        model.is_private = is_private
        model.save(update_fields=["is_private"])
    page_cache.changed()
    return model


def find_model(*, namespace: str, name: str, user) -> Model:
    """The model if the user may see it; otherwise RepoNotFound, the same answer as for a missing one. Names that no
    model can have (a body may send anything, NUL included, which PostgreSQL cannot compare) are not looked up."""
    if not all(isinstance(part, str) and _ID_PART.fullmatch(part) for part in (namespace, name)):
        raise RepoNotFound(f"Repository not found: {namespace}/{name}")
    model = Model.objects.visible_to(user).by_id(namespace, name).select_related("owner").first()
    if model is None:
        raise RepoNotFound(f"Repository not found: {namespace}/{name}")
    return model


def resolve_revision(*, model: Model, revision: str) -> Commit:
    """A branch, a tag, or a full or abbreviated (≥ 7 hex) commit sha, to a commit of this model."""
    ref = (
        Ref.objects.filter(model=model, name=revision)
        .select_related("commit")
        .order_by("kind")  # a branch wins over a tag of the same name
        .first()
    )
    if ref is not None:
        return ref.commit
    if 7 <= len(revision) <= SHA_LENGTH and all(c in "0123456789abcdef" for c in revision):
        matches = list(Commit.objects.filter(model=model, sha__startswith=revision)[:2])
        if len(matches) == 1:
            return matches[0]
    raise RevisionNotFound(f"Invalid rev id: {revision}")


def head_commit(*, model: Model, branch: str = DEFAULT_BRANCH) -> Commit | None:
    ref = Ref.objects.filter(model=model, kind=RefKind.BRANCH, name=branch).select_related("commit").first()
    return ref.commit if ref else None


def _new_sha(*, model: Model, parent: Commit | None, tree: dict[str, int], message: str) -> str:
    payload = json.dumps(
        {
            "model": model.pk,
            "parent": parent.sha if parent else None,
            "tree": sorted(tree.items()),
            "message": message,
            "nonce": uuid.uuid4().hex,
        }
    )
    return hashlib.sha1(payload.encode()).hexdigest()


def _apply(tree: dict[str, int], operations: list[Operation]) -> dict[str, int]:
    tree = dict(tree)
    for operation in operations:
        if isinstance(operation, AddFile):
            tree[check_repo_path(operation.path)] = operation.blob.pk
        elif isinstance(operation, DeleteFile):
            if tree.pop(operation.path, None) is None:
                raise EntryNotFound(f"cannot delete {operation.path!r}: no such file")
        else:
            prefix = operation.path.rstrip("/") + "/"
            doomed = [path for path in tree if path.startswith(prefix)]
            if not doomed:
                raise EntryNotFound(f"cannot delete folder {operation.path!r}: no such folder")
            for path in doomed:
                del tree[path]
    paths = set(tree)
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in paths:
                raise InvalidInput(f"{path!r} needs a folder where the file {'/'.join(parts[:depth])!r} is")
    return tree


def commit_changes(
    *,
    model_id: int,
    author: User,
    operations: list[Operation],
    message: str,
    description: str = "",
    branch: str = DEFAULT_BRANCH,
    parent_sha: str | None = None,
    lineage: dict | None = None,
    base_commit: Commit | None = None,
    base_relation: str = "",
) -> Commit:
    """Make a new commit on a branch from the branch head plus `operations`, and enqueue its validation.

    Commits on one model are serialised by a row lock, so two racing pushes both land, the later one on top of
    the earlier (no file is lost). A client that names the parent it built on gets StaleParent if it moved."""
    message = (message or "").strip()[:500] or "Upload files"
    _check_card(operations)
    with transaction.atomic():
        model = Model.objects.select_for_update().get(pk=model_id)
        head = head_commit(model=model, branch=branch)
        if head is None and (branch != DEFAULT_BRANCH or Ref.objects.filter(model=model).exists()):
            raise RevisionNotFound(f"Invalid rev id: {branch}")
        if parent_sha and (head is None or not head.sha.startswith(parent_sha)):
            raise StaleParent(
                f"A commit has happened on {branch} since {parent_sha[:12]}; fetch the new head and try again"
            )
        base_tree = dict(head.files.values_list("path", "blob_id")) if head else {}
        tree = _apply(base_tree, operations)
        commit = Commit.objects.create(
            model=model,
            sha=_new_sha(model=model, parent=head, tree=tree, message=message),
            parent=head,
            message=message,
            description=description,
            author=author,
            lineage=lineage or {},
            base_commit=base_commit,
            base_relation=base_relation,
        )
        FileEntry.objects.bulk_create(
            FileEntry(commit=commit, path=path, blob_id=blob_id) for path, blob_id in tree.items()
        )
        if head is None:
            Ref.objects.create(model=model, kind=RefKind.BRANCH, name=branch, commit=commit)
        else:
            Ref.objects.filter(model=model, kind=RefKind.BRANCH, name=branch).update(commit=commit)
        model.updated_at = timezone.now()
        model.save(update_fields=["updated_at"])
        if branch == DEFAULT_BRANCH:
            hub_metadata.refresh(model=model, tree=tree)
        page_cache.changed()
        transaction.on_commit(lambda: _enqueue_validation(commit.pk))
    return commit


def _enqueue_validation(commit_id: int) -> None:
    """Ask a worker to validate a stored commit. The commit row (status `pending`) is the outbox: if the broker
    cannot take the message now, the commit still stands (the client gets its answer, and has nothing to retry)
    and `requeue_stuck_validations` (beat, every minute) enqueues it once the broker is back."""
    try:
        tasks.validate_commit.apply_async(args=[commit_id], retry=False)
    except Exception as exc:  # kombu's OperationalError, redis errors: the broker is down or unreachable
        logger.warning("could not enqueue the validation of commit %s (%s: %s); beat will", commit_id,
                       type(exc).__name__, exc)  # fmt: skip


TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}$")


def create_tag(*, model_id: int, name: str, revision: str) -> Ref:
    """Point a new tag at a revision. Tags never move; delete and re-create one to change it."""
    if not isinstance(name, str) or not TAG_PATTERN.fullmatch(name) or len(name) == SHA_LENGTH:
        raise InvalidInput("a tag is 1-100 letters, digits or '_.+-', and not 40 characters long", param="tag")
    with transaction.atomic():
        model = Model.objects.select_for_update().get(pk=model_id)
        commit = resolve_revision(model=model, revision=revision)
        if Ref.objects.filter(model=model, name=name).exists():
            raise RepoExists(f"a branch or tag named {name!r} already exists")
        return Ref.objects.create(model=model, kind=RefKind.TAG, name=name, commit=commit)


def delete_tag(*, model_id: int, name: str) -> None:
    """Remove a tag; the commit it pointed at stays."""
    deleted, _ = Ref.objects.filter(model_id=model_id, kind=RefKind.TAG, name=name).delete()
    if not deleted:
        raise RevisionNotFound(f"Invalid rev id: {name}")


def request_validation(*, commit_id: int, by: User) -> Commit:
    """The owner asks for an `invalid` commit to be validated again (after a crash, or a fix on the store's side).
    Asking for a commit that is pending, validating or valid changes nothing."""
    with transaction.atomic():
        commit = Commit.objects.select_for_update().select_related("model").get(pk=commit_id)
        if commit.model.owner_id != by.pk:
            raise RepoNotFound(f"Repository not found: {commit.model.repo_id}")
        if commit.validation_status != ValidationStatus.INVALID:
            return commit
        commit.validation_status, commit.validation_task_id = ValidationStatus.PENDING, ""
        commit.validation_error, commit.validation_report = "", {}
        commit.save(update_fields=["validation_status", "validation_task_id", "validation_error", "validation_report"])
        transaction.on_commit(lambda: _enqueue_validation(commit.pk))
    return commit


def ingest_upload(*, user: User, incoming_stream, size: int, expected_sha256: str | None = None) -> Blob:
    """Store uploaded bytes as a blob the user may reference. The user's quota is reserved first (for bytes
    the store does not hold yet) and released again if the upload fails or turns out to be a duplicate."""
    if size > settings.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"file of {size} bytes is over the upload limit of {settings.MAX_UPLOAD_BYTES} bytes")
    accounts.reserve_storage(user_id=user.pk, size=size)
    keep_reservation = False
    try:
        incoming = receive_stream(incoming_stream, max_bytes=size, expected_size=size)
        if expected_sha256 is not None and incoming.sha256 != expected_sha256:
            incoming.discard()
            raise InvalidInput(f"content hashes to sha256 {incoming.sha256}, not {expected_sha256}")
        already_stored = Blob.objects.filter(sha256=incoming.sha256).exists()
        blob = store_blob(incoming)
        keep_reservation = not already_stored
        BlobGrant.objects.get_or_create(user=user, blob=blob)
        return blob
    finally:
        if not keep_reservation:
            accounts.release_storage(user_id=user.pk, size=size)


def blob_for_reference(*, user: User, sha256: str) -> Blob:
    """A blob the user may put in a commit by its sha256 alone: one they uploaded, or one they could download
    for free right now (a file of a model they can see, and not weights that a listing withholds or sells).
    Knowing a hash grants nothing: weights that cost a download or are offered for calls only must be pulled
    (and paid for) like any download, then uploaded."""
    blob = Blob.objects.filter(sha256=sha256).first()
    if blob is not None:
        if BlobGrant.objects.filter(user=user, blob=blob).exists():
            return blob
        entries = FileEntry.objects.filter(blob=blob, commit__model__in=Model.objects.visible_to(user))
        priced: set[int] = set()
        for entry in entries.select_related("commit__model")[:1000]:
            if not is_weights_file(entry.path):
                return blob
            model = entry.commit.model
            if model.pk not in priced and download_policy().download_price(model=model, user=user) == 0:
                return blob
            priced.add(model.pk)
    raise InvalidInput(f"LFS object {sha256} has not been uploaded; upload it through the LFS batch API first")


def delete_model(*, model_id: int) -> None:
    """Delete a repository and its commits. Blobs stay (they may be shared); storage reclaim is a sweep. A model
    that other records must keep (the base of fine-tuning jobs) is refused with Conflict and left whole."""
    try:
        with transaction.atomic():
            model = Model.objects.select_for_update().get(pk=model_id)
            Ref.objects.filter(model=model).delete()
            FileEntry.objects.filter(commit__model=model).delete()
            Commit.objects.filter(model=model).update(parent=None)
            Commit.objects.filter(model=model).delete()
            model.delete()
            page_cache.changed()
    except (ProtectedError, RestrictedError) as exc:
        kinds = sorted({str(type(item)._meta.verbose_name_plural) for item in exc.args[1]})
        raise Conflict(f"this model cannot be deleted while other records refer to it ({', '.join(kinds)}); "
                       "make it private instead") from None  # fmt: skip


def set_description(*, model_id: int, description: str) -> Model:
    """The one-line description shown under the model's name (at most 300 characters, no NUL)."""
    description = " ".join(str(description or "").split())
    if len(description) > 300 or "\x00" in description:
        raise InvalidInput("description must be at most 300 characters", param="description")
    with transaction.atomic():
        model = Model.objects.select_for_update().get(pk=model_id)
        model.description = description
        model.updated_at = timezone.now()
        model.save(update_fields=["description", "updated_at"])
    page_cache.changed()
    return model


def _check_card(operations: list[Operation]) -> None:
    """Refuse a README.md whose YAML front matter cannot be read (too deep, too big, not YAML, not a mapping):
    once stored it would be what every HF client and page reads as the model's metadata."""
    for operation in operations:
        if isinstance(operation, AddFile) and operation.path == cards.CARD_PATH:
            problem = cards.front_matter_problem(cards.read_text(operation.blob))
            if problem:
                raise InvalidInput(f"README.md: {problem}", param="README.md")


def commit_card(*, model_id: int, author: User, content: str) -> Commit:
    """Save the model card as README.md in a new commit on main."""
    data = content.replace("\r\n", "\n").encode("utf-8")
    blob = ingest_upload(user=author, incoming_stream=[data], size=len(data))
    return commit_changes(
        model_id=model_id, author=author, operations=[AddFile(path="README.md", blob=blob)], message="Update model card"
    )
