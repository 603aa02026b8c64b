"""HF Hub protocol, writing: create repos, preupload, NDJSON commits, YAML validation."""

import base64
import binascii
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse

from core import json_input
from core.exceptions import InvalidInput, PayloadTooLarge, PermissionDenied
from registry import cards, services
from registry.api.protocol import HubRequest, base_url, caller_of, hf_view, read_json, require_owner
from registry.exceptions import RepoExists
from registry.models import DEFAULT_BRANCH
from registry.paths import check_repo_path

MAX_COMMIT_LINE_BYTES = 48 * 1024 * 1024


@hf_view(methods=("POST",), scope="write")
def create_repo(request: HubRequest) -> JsonResponse:
    """POST /api/repos/create {name, organization, visibility|private, type}"""
    payload = read_json(request)
    repo_type = payload.get("type")
    if repo_type not in (None, "model"):
        raise InvalidInput(f"only model repositories are supported, not {repo_type!r}", param="type")
    organization = payload.get("organization")  # huggingface_hub sends null for the caller's own namespace
    if organization is not None and not isinstance(organization, str):
        raise InvalidInput("organization must be a namespace (a string) or null", param="organization")
    namespace = organization or caller_of(request).username
    if namespace != caller_of(request).username:
        raise PermissionDenied(f"You don't have the rights to create a model under the namespace {namespace!r}")
    name = payload.get("name")
    if not isinstance(name, str):
        raise InvalidInput("name is required", param="name")
    is_private = bool(_requested_privacy(payload))
    url = f"{base_url(request)}/{namespace}/{name}"
    try:
        model = services.create_model(owner=caller_of(request), name=name, is_private=is_private)
    except RepoExists as exc:
        return JsonResponse({"error": exc.message, "url": url}, status=409)
    return JsonResponse({"url": url, "name": model.repo_id, "id": f"model-{model.pk}"})


VISIBILITIES = {"public": False, "private": True}


def _requested_privacy(payload: dict) -> bool | None:
    """`visibility` ('public' | 'private') or `private` (a boolean), checked: None when neither is sent. Anything
    else is refused rather than read as public, so a typo never publishes a private model."""
    visibility, private = payload.get("visibility"), payload.get("private")
    if visibility is not None:
        if not isinstance(visibility, str) or visibility not in VISIBILITIES:
            raise InvalidInput(f"visibility must be 'public' or 'private', not {visibility!r}", param="visibility")
        if private is not None and private != VISIBILITIES[visibility]:
            raise InvalidInput("'private' and 'visibility' disagree", param="private")
        return VISIBILITIES[visibility]
    if private is not None and not isinstance(private, bool):
        raise InvalidInput(f"private must be true or false, not {private!r}", param="private")
    return private


@hf_view(methods=("DELETE",), scope="write")
def delete_repo(request: HubRequest) -> JsonResponse:
    """DELETE /api/repos/delete {name, organization, type}"""
    payload = read_json(request)
    namespace = payload.get("organization") or caller_of(request).username
    model = services.find_model(namespace=namespace, name=str(payload.get("name")), user=request.caller)
    require_owner(request, model)
    services.delete_model(model_id=model.pk)
    return JsonResponse({})


@hf_view(methods=("PUT",), scope="write")
def repo_settings(request: HubRequest, namespace: str, name: str) -> JsonResponse:
    """PUT /api/models/{ns}/{name}/settings {private|visibility}"""
    model = services.find_model(namespace=namespace, name=name, user=request.caller)
    require_owner(request, model)
    payload = read_json(request)
    is_private = _requested_privacy(payload)
    if is_private is None:
        raise InvalidInput("send 'private' (true or false) or 'visibility' ('public' or 'private')", param="private")
    model = services.set_visibility(model_id=model.pk, is_private=is_private)
    return JsonResponse({"private": model.is_private})


@hf_view(methods=("POST",))
def validate_yaml(request: HubRequest) -> JsonResponse:
    """POST /api/validate-yaml {content, repoType}: check a model card's YAML front matter."""
    payload = read_json(request)
    content = payload.get("content")
    if not isinstance(content, str):
        raise InvalidInput("content is required: the README's text, a string", param="content")
    if payload.get("repoType", "model") != "model":
        raise InvalidInput("repoType must be 'model': this store holds models", param="repoType")
    problem = cards.front_matter_problem(content)
    if problem:
        return JsonResponse({"error": problem, "errors": [{"message": problem}], "warnings": []}, status=400)
    return JsonResponse({"errors": [], "warnings": []})


@hf_view(methods=("POST",), scope="write")
def preupload(request: HubRequest, namespace: str, name: str, revision: str) -> JsonResponse:
    """POST /api/models/{ns}/{name}/preupload/{rev}: small files go inline ('regular'), large ones through LFS."""
    model = services.find_model(namespace=namespace, name=name, user=request.caller)
    require_owner(request, model)
    if revision != DEFAULT_BRANCH or services.head_commit(model=model) is not None:
        services.resolve_revision(model=model, revision=revision)
    files = read_json(request).get("files")
    if not isinstance(files, list):
        raise InvalidInput("files must be a list", param="files")
    answer = []
    for item in files:
        if not isinstance(item, dict):
            raise InvalidInput("each file must be an object", param="files")
        path = check_repo_path(item.get("path"))
        size = item.get("size")
        if not isinstance(size, int) or size < 0:
            raise InvalidInput(f"{path}: size must be a non-negative integer", param="size")
        if size > settings.MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(f"{path} is {size} bytes, over the upload limit of {settings.MAX_UPLOAD_BYTES}")
        mode = "regular" if size <= settings.REGULAR_UPLOAD_MAX_BYTES else "lfs"
        answer.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": None})
    return JsonResponse({"files": answer, "commitOid": None})


@hf_view(methods=("POST",), scope="write")
def commit(request: HubRequest, namespace: str, name: str, revision: str) -> JsonResponse:
    """POST /api/models/{ns}/{name}/commit/{rev}: NDJSON header, then file / lfsFile / deletedFile / deletedFolder."""
    model = services.find_model(namespace=namespace, name=name, user=request.caller)
    require_owner(request, model)
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.MAX_COMMIT_BODY_BYTES:
        raise PayloadTooLarge(
            f"commit body is {length} bytes, over {settings.MAX_COMMIT_BODY_BYTES}; send large files through LFS"
        )
    header, parsed = _parse_commit_lines(request)
    # Storing inline files and committing is one transaction: if the commit is refused (a stale parent, a
    # missing branch), the blob rows and the quota charge roll back with it.
    with transaction.atomic():
        operations = [_stored(request, op) if isinstance(op, _InlineFile) else op for op in parsed]
        created = services.commit_changes(
            model_id=model.pk,
            author=caller_of(request),
            operations=operations,
            message=str(header.get("summary") or ""),
            description=str(header.get("description") or ""),
            branch=revision,
            parent_sha=header.get("parentCommit") or None,
        )
    return JsonResponse(
        {
            "commitUrl": f"{base_url(request)}/{model.repo_id}/commit/{created.sha}",
            "commitOid": created.sha,
            "commitMessage": created.message,
            "pullRequestUrl": None,
            "success": True,
        }
    )


@dataclass(frozen=True)
class _InlineFile:
    """A small file sent inside the commit body; stored only once the whole body has parsed."""

    path: str
    data: bytes


def _stored(request: HubRequest, inline: _InlineFile) -> services.AddFile:
    blob = services.ingest_upload(user=caller_of(request), incoming_stream=[inline.data], size=len(inline.data))
    return services.AddFile(path=inline.path, blob=blob)


def _parse_commit_lines(request: HubRequest) -> tuple[dict, list[services.Operation]]:
    """Parse and check every line before anything is stored, so a bad line leaves no trace."""
    header: dict | None = None
    operations: list = []
    seen: set[str] = set()
    number = 0
    while True:
        line = request.readline(MAX_COMMIT_LINE_BYTES + 1)
        if not line:
            break
        number += 1
        if len(line) > MAX_COMMIT_LINE_BYTES:
            raise PayloadTooLarge(f"line {number} is longer than {MAX_COMMIT_LINE_BYTES} bytes")
        if not line.strip():
            continue
        try:
            item = json_input.loads(line, what="the line")
            key, value = item["key"], item["value"]
            if not isinstance(value, dict):
                raise TypeError("value must be an object")
        except (InvalidInput, KeyError, TypeError) as exc:
            reason = exc.message if isinstance(exc, InvalidInput) else exc
            raise InvalidInput(
                f"line {number}: not a valid commit operation ({reason})", param=f"line {number}"
            ) from None
        if key == "header":
            header = _checked_header(value, number)
            continue
        path = value.get("path")
        try:
            # a folder may be named with a trailing slash; anything but a string is refused by check_repo_path
            check_repo_path(path.rstrip("/") if key == "deletedFolder" and isinstance(path, str) else path)
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {exc.message}", param=f"line {number}") from None
        if path in seen:
            raise InvalidInput(f"line {number}: {path} appears twice in one commit", param=f"line {number}")
        seen.add(str(path))  # a string: check_repo_path refused anything else
        operations.append(_operation(request, number, key, value))
    if header is None:
        raise InvalidInput("line 1: the first line must be the commit header", param="line 1")
    return header, operations


def _checked_header(header: dict, number: int) -> dict:
    """The header's summary and description are text; parentCommit, if sent, a 40-hex commit sha."""
    for name in ("summary", "description"):
        value = header.get(name)
        if value is not None and (not isinstance(value, str) or "\x00" in value):  # PostgreSQL text holds no NUL
            raise InvalidInput(f"line {number}: the header's {name} must be a string without NUL characters",
                               param=f"line {number}")  # fmt: skip
    parent = header.get("parentCommit")
    if parent is not None and not (isinstance(parent, str) and re.fullmatch(r"[0-9a-f]{40}", parent)):
        raise InvalidInput(f"line {number}: parentCommit must be a 40-character commit sha", param="parentCommit")
    return header


def _operation(request: HubRequest, number: int, key: str, value: dict):
    path = value["path"]
    if key == "file":
        if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
            raise InvalidInput(f"line {number}: file content must be a base64 string", param=f"line {number}")
        try:
            data = base64.b64decode(value["content"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"line {number}: content is not valid base64", param=f"line {number}") from None
        return _InlineFile(path=path, data=data)
    if key == "lfsFile":
        oid = value.get("oid")
        if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str) or len(oid) != 64:
            raise InvalidInput(f"line {number}: lfsFile needs a sha256 oid", param=f"line {number}")
        return services.AddFile(
            path=path, blob=services.blob_for_reference(user=caller_of(request), sha256=oid.lower())
        )
    if key == "deletedFile":
        return services.DeleteFile(path=path)
    if key == "deletedFolder":
        return services.DeleteFolder(path=path)
    raise InvalidInput(f"line {number}: unsupported operation {key!r}", param=f"line {number}")


@hf_view(methods=("POST", "DELETE"), scope="write")
def tag(request: HubRequest, namespace: str, name: str, revision: str) -> JsonResponse:
    """POST /api/models/{ns}/{name}/tag/{rev} {tag}: tag a revision. DELETE .../tag/{tag}: remove the tag."""
    model = services.find_model(namespace=namespace, name=name, user=request.caller)
    require_owner(request, model)
    if request.method == "DELETE":
        services.delete_tag(model_id=model.pk, name=revision)
        return JsonResponse({})
    tag = read_json(request).get("tag")
    created = services.create_tag(model_id=model.pk, name=tag if isinstance(tag, str) else "", revision=revision)
    return JsonResponse({"name": created.name, "ref": f"refs/tags/{created.name}", "targetCommit": created.commit.sha})
