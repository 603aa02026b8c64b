"""Xet over HTTP: the Hub API's token endpoints, and the CAS (spec/api.md) under /cas/ on the same web processes.

A token answers `{accessToken, exp, casUrl}` (and the X-Xet-* headers huggingface_hub reads). The CAS takes the token
as a bearer: uploads (xorbs, shards) need a write token; the dedupe query, reconstructions and existence checks a
read one. Errors are JSON `{"error": ...}` with the spec's statuses: 400 for anything malformed (and nothing stored),
401 without a valid token, 403 for a read token that writes, 404 for what is not there or not the token's."""

import functools
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.authentication import has_scope
from accounts.models import User
from core.exceptions import DomainError, InvalidInput, NotAuthenticated, PermissionDenied
from registry import services
from registry.api.protocol import HubRequest, base_url, error_response, hf_view, method_not_allowed, require_owner
from registry.models import DEFAULT_BRANCH, Model
from registry.xet import files, hashing, reads, tokens, xorbs
from registry.xet.models import XetScope, Xorb

PREFIX = "cas"


@hf_view(methods=("GET",))
def token(request: HubRequest, namespace: str, name: str, kind: str, revision: str) -> JsonResponse:
    """GET /api/models/{ns}/{name}/xet-{read|write}-token/{rev}: a CAS token for this repository and ref."""
    model = services.find_model(namespace=namespace, name=name, user=request.caller)
    holder = _writer(request, model) if kind == XetScope.WRITE else request.caller
    if revision != DEFAULT_BRANCH or services.head_commit(model=model) is not None:
        services.resolve_revision(model=model, revision=revision)
    text, expires = tokens.issue(user=holder, model=model, revision=revision, scope=kind)
    cas_url = f"{base_url(request)}/{PREFIX}"
    exp = int(expires.timestamp())
    response = JsonResponse({"accessToken": text, "exp": exp, "casUrl": cas_url})
    response["X-Xet-Cas-Url"], response["X-Xet-Access-Token"] = cas_url, text
    response["X-Xet-Token-Expiration"] = str(exp)
    response["Cache-Control"] = "no-store"
    return response


def _writer(request: HubRequest, model: Model) -> User:
    if request.caller is None:
        raise NotAuthenticated("a write token needs an API key: send 'Authorization: Bearer <key>'")
    if not has_scope(request.api_key, "write"):
        raise PermissionDenied("this API key lacks the 'write' scope")
    require_owner(request, model)
    return request.caller


def cas_view(*, methods: tuple[str, ...], write: bool = False):
    """A CAS route: its methods, its bearer token (a write one when `write`), DomainError -> JSON error."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                return method_not_allowed(request, methods)
            try:
                grant = tokens.authenticate(request.headers.get("Authorization"))
                if write:
                    tokens.writer(grant)
                return view(request, grant, *args, **kwargs)
            except DomainError as exc:
                return error_response(exc)

        return wrapper

    return decorate


def _body(request: HttpRequest) -> bytes:
    length = request.META.get("CONTENT_LENGTH")
    if not length or not length.isdigit():
        raise InvalidInput("Content-Length is required")
    data = request.read(int(length))
    if len(data) != int(length):
        raise InvalidInput(f"the body ended after {len(data)} of {length} bytes")
    return data


def _hash(text: str) -> str:
    try:
        hashing.from_hex(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a hash: 64 lowercase hex digits") from None
    if text != text.lower():
        raise InvalidInput("hashes are lowercase hex")
    return text


@cas_view(methods=("POST", "HEAD"))
def xorb(request: HttpRequest, grant: tokens.Grant, prefix: str, hash_text: str) -> HttpResponse:
    """POST /cas/v1/xorbs/default/{hash}: store a xorb (was_inserted false when it was here). HEAD: its size."""
    if prefix != "default":
        raise InvalidInput("the xorb prefix is 'default'")
    hash_text = _hash(hash_text)
    if request.method == "HEAD":
        found = Xorb.objects.filter(hash=hash_text).first()
        if found is None:
            return HttpResponse(status=404)
        response = HttpResponse()
        response["Content-Length"] = str(found.stored_bytes)
        return response
    inserted = xorbs.store(user=tokens.writer(grant), hash_text=hash_text, data=_body(request))
    return JsonResponse({"was_inserted": inserted})


@cas_view(methods=("POST",), write=True)
def shards(request: HttpRequest, grant: tokens.Grant) -> JsonResponse:
    """POST /cas/v1/shards: register the files a shard describes (result 1), or 0 when all were known."""
    registered = files.register_shard(user=tokens.writer(grant), data=_body(request))
    return JsonResponse({"result": 1 if registered else 0})


@cas_view(methods=("GET",))
def chunk(_request: HttpRequest, _grant: tokens.Grant, prefix: str, hash_text: str) -> HttpResponse:
    """GET /cas/v1/chunks/default-merkledb/{hash}: the global dedupe query."""
    if prefix not in ("default-merkledb", "default"):  # the spec's prefix, and the one hf_xet 1.8 sends
        raise InvalidInput("the dedupe prefix is 'default-merkledb'")
    answer = reads.dedupe(_hash(hash_text))
    if answer is None:
        return JsonResponse({"error": "no stored xorb holds this chunk"}, status=404)
    return HttpResponse(answer, content_type="application/octet-stream")


@cas_view(methods=("HEAD",))
def file(_request: HttpRequest, grant: tokens.Grant, file_id: str) -> HttpResponse:
    """HEAD /cas/v1/files/{file_id}: the file's size when the token's repository holds it."""
    found = reads.readable_file(model=grant.model, file_text=_hash(file_id))
    response = HttpResponse()
    response["Content-Length"] = str(found.blob.size)
    return response


@cas_view(methods=("GET",))
def reconstruction(request: HttpRequest, grant: tokens.Grant, version: str, file_id: str) -> JsonResponse:
    """GET /cas/v{1,2}/reconstructions/{file_id} (Range: bytes=a-b optional): the terms that make the file."""
    found = reads.readable_file(model=grant.model, file_text=_hash(file_id))
    first, last = reads.byte_range(request.headers.get("Range"), found.blob.size)
    chosen, skip = reads.pieces(found, first, last)
    terms = [{"hash": p.xorb.hash, "unpacked_length": p.raw_bytes, "range": {"start": p.start, "end": p.end}}
             for p in chosen]  # fmt: skip
    spans: dict[str, list[reads.Piece]] = {}
    for piece in chosen:
        spans.setdefault(piece.xorb.hash, []).append(piece)
    fetch = f"{base_url(request)}/{PREFIX}/v1/fetch/"
    if version == "1":
        fetch_info = {text: [_fetch_entry(fetch, p) for p in _merged(ps)] for text, ps in spans.items()}
        return JsonResponse({"offset_into_first_range": skip, "terms": terms, "fetch_info": fetch_info})
    xorbs_info = {}
    for text, ps in spans.items():
        merged = _merged(ps)
        ranges = [p.layout.serialized_range(p.start, p.end) for p in merged]
        url = fetch + reads.fetch_token(xorb=merged[0].xorb, ranges=[(a, b - 1) for a, b in ranges])
        xorbs_info[text] = [{"url": url, "ranges": [{"chunks": {"start": p.start, "end": p.end},
                                                     "bytes": {"start": a, "end": b - 1}}
                                                    for p, (a, b) in zip(merged, ranges, strict=True)]}]  # fmt: skip
    return JsonResponse({"offset_into_first_range": skip, "terms": terms, "xorbs": xorbs_info})


def _merged(pieces: list[reads.Piece]) -> list[reads.Piece]:
    """One piece per run of overlapping or touching chunk ranges of the same xorb."""
    out: list[reads.Piece] = []
    for piece in sorted(pieces, key=lambda p: p.start):
        if out and piece.start <= out[-1].end:
            last = out[-1]
            out[-1] = reads.Piece(xorb=last.xorb, layout=last.layout, start=last.start, end=max(last.end, piece.end))
        else:
            out.append(piece)
    return out


def _fetch_entry(fetch: str, piece: reads.Piece) -> dict:
    first, end = piece.layout.serialized_range(piece.start, piece.end)
    return {"range": {"start": piece.start, "end": piece.end}, "url_range": {"start": first, "end": end - 1},
            "url": fetch + reads.fetch_token(xorb=piece.xorb, ranges=[(first, end - 1)])}  # fmt: skip


@csrf_exempt
def fetch(request: HttpRequest, grant_text: str) -> HttpResponse:
    """GET /cas/v1/fetch/{signed}: the byte ranges of a xorb that a reconstruction signed, asked for with Range."""
    if request.method != "GET":
        return method_not_allowed(request, ("GET",))
    try:
        record, granted = reads.open_fetch(grant_text)
        asked = _ranges(request.headers.get("Range"))
        if not asked or any(span not in granted for span in asked):
            raise PermissionDenied("send a Range header naming exactly the byte ranges this URL was signed for")
        parts = [(a, b, xorbs.read_bytes(record, a, b)) for a, b in asked]
    except DomainError as exc:
        return error_response(exc)
    if len(parts) == 1:
        a, b, data = parts[0]
        response = HttpResponse(data, status=206, content_type="application/octet-stream")
        response["Content-Range"] = f"bytes {a}-{b}/{record.stored_bytes}"
        return response
    boundary = uuid.uuid4().hex
    body = bytearray()
    for a, b, data in parts:
        body += (f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                 f"Content-Range: bytes {a}-{b}/{record.stored_bytes}\r\n\r\n").encode()  # fmt: skip
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return HttpResponse(bytes(body), status=206, content_type=f"multipart/byteranges; boundary={boundary}")


def _ranges(header: str | None) -> list[tuple[int, int]]:
    if not header or not header.startswith("bytes="):
        return []
    try:
        return [(int(a), int(b)) for a, b in (part.strip().split("-") for part in header[6:].split(","))]
    except ValueError:
        raise InvalidInput("Range must be 'bytes=a-b[,c-d...]'") from None
