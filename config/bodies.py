"""Request bodies, guarded before a view reads them (docs/security.md, "Slow and stalled uploads").

A thread of the web server waits while a client sends a body, so a client that announces a large body and
sends nothing holds a thread: twenty such connections from one key starved the web tier (issue #22). So, for
every request that carries a body:

- its Content-Length is checked against the route's limit first: over it answers 413 at once, unread;
- on the upload routes (files, LFS objects, portal chunks, HF commits: routes whose limit is over the 16 MiB of
  a JSON body), at most MAX_CONCURRENT_BODIES_PER_CALLER uploads are being received per caller (a key, a session,
  or else an address): past it, 429 at once, unread. Calls are not counted: sixteen concurrent streams from one
  key are ordinary, and their bodies arrive with their headers;
- each read of the body waits at most BODY_IDLE_TIMEOUT_SECONDS for bytes (gunicorn hands the client's socket
  to the application as `gunicorn.socket`), then answers 408.

The server drains or closes what it did not read (gunicorn 23+ bounds that drain by its own timeout)."""

import contextlib
import hashlib
import logging
import socket
import time
import uuid

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import UnreadablePostError
from django.urls import Resolver404, resolve

from core.exceptions import DomainError, InvalidInput, PayloadTooLarge, RequestTimeout, TooManyRequestBodies
from registry.xet.shard import MAX_SHARD_BYTES as SHARD_LIMIT
from registry.xet.xorb import MAX_XORB_BYTES as XORB_LIMIT

logger = logging.getLogger(__name__)


def route_limit(request: HttpRequest) -> int:
    """The largest body the route takes: uploads of files have their own limits, every other body is JSON or a
    form (DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    try:
        name = resolve(request.path_info).url_name
    except Resolver404:
        name = None
    multipart_slack = 1024 * 1024  # the form fields and boundaries around a file
    limits = {
        "v1-files": settings.MAX_TRAINING_FILE_BYTES + multipart_slack,
        "fine-tune-new": settings.MAX_TRAINING_FILE_BYTES + multipart_slack,
        "pretrain-new": settings.MAX_TRAINING_FILE_BYTES + multipart_slack,
        "lfs-upload": settings.MAX_UPLOAD_BYTES,
        "api-upload-detail": settings.MAX_UPLOAD_BYTES,
        "hf-commit": settings.MAX_COMMIT_BODY_BYTES,
        "xet-xorb": XORB_LIMIT,
        "xet-shards": SHARD_LIMIT,
    }
    return limits.get(name or "", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def caller_identity(request: HttpRequest) -> str:
    """Who sends the body, for the concurrency cap: a hash of the bearer key or session cookie (never the secret
    itself), else the client's address."""
    secret = request.headers.get("Authorization") or request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if secret:
        return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()[:32]
    return f"addr:{request.META.get('REMOTE_ADDR', '')}"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)


class _InFlight:
    """A caller's bodies in flight: a sorted set scored by start time, so one whose request died without leaving
    (a killed process) drops out after BODY_MAX_SECONDS."""

    def __init__(self, identity: str):
        self.key, self.member = f"bodies:{identity}", uuid.uuid4().hex

    def enter(self) -> bool:
        now = time.time()
        try:
            pipeline = _redis().pipeline()
            pipeline.zremrangebyscore(self.key, "-inf", now - settings.BODY_MAX_SECONDS)
            pipeline.zadd(self.key, {self.member: now})
            pipeline.zcard(self.key)
            pipeline.expire(self.key, settings.BODY_MAX_SECONDS)
            _, _, count, _ = pipeline.execute()
        except redis.RedisError:
            return True  # the cap needs Redis; the size limit and the idle timeout still hold without it
        if count > settings.MAX_CONCURRENT_BODIES_PER_CALLER:
            self.leave()
            return False
        return True

    def leave(self) -> None:
        if self.member is None:
            return
        self.member, member = None, self.member
        try:
            _redis().zrem(self.key, member)
        except redis.RedisError:
            logger.warning("could not end a body in flight of %s; it drops out on its own", self.key)


def _refuse(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """The refusal in the route's shape, with the body left unread. The server would drain that body before
    reading a next request on the connection (gunicorn waits up to 5 s for it, holding the thread: a stalled
    client's refusals starved the web just the same), so the connection's reading side is shut first: the
    drain ends at once, the answer is still written, and the connection then closes."""
    from config.errors import refusal  # config.errors imports the apps' error shapes

    client = request.META.get("gunicorn.socket")
    if isinstance(client, socket.socket):
        with contextlib.suppress(OSError):  # already gone
            client.shutdown(socket.SHUT_RD)
    return refusal(request, exc)


class _CountedStream:
    """The request's body stream (Django's LimitedStream), which ends the body's place in flight once it is read
    to its end: the cap counts bodies being received, not calls being answered (a call may run for minutes)."""

    def __init__(self, stream, on_end):
        self._stream, self._on_end = stream, on_end

    def _check(self, data: bytes) -> bytes:
        if not data or getattr(self._stream, "_pos", 0) >= getattr(self._stream, "limit", float("inf")):
            self._on_end()
        return data

    def read(self, size=-1, /) -> bytes:
        return self._check(self._stream.read(size))

    def readline(self, size=-1, /) -> bytes:
        return self._check(self._stream.readline(size))

    def __getattr__(self, name):
        return getattr(self._stream, name)


class GuardRequestBodies:
    """The middleware: limits, cap and idle timeout for request bodies (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not raw and not chunked:
            return self.get_response(request)
        if raw and not (raw.isascii() and raw.isdigit()):
            return _refuse(request, InvalidInput("Content-Length must be a number of bytes"))
        if raw and int(raw) == 0:
            return self.get_response(request)
        limit = route_limit(request)
        if raw and int(raw) > limit:
            return _refuse(request, PayloadTooLarge(f"the request body is {int(raw)} bytes, over this route's "
                                                    f"limit of {limit} bytes"))  # fmt: skip
        if limit <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:  # not an upload route: the idle timeout alone
            return self._with_idle_timeout(request)
        flight = _InFlight(caller_identity(request))
        if not flight.enter():
            return _refuse(request, TooManyRequestBodies(
                f"at most {settings.MAX_CONCURRENT_BODIES_PER_CALLER} request bodies may be in flight at once for "
                "one key or session; wait for one to finish"))  # fmt: skip
        request._stream = _CountedStream(request._stream, flight.leave)  # type: ignore[attr-defined]  # Django's
        try:
            return self._with_idle_timeout(request)
        finally:
            flight.leave()

    def _with_idle_timeout(self, request: HttpRequest) -> HttpResponse:
        client = request.META.get("gunicorn.socket")
        if isinstance(client, socket.socket):
            client.settimeout(settings.BODY_IDLE_TIMEOUT_SECONDS)
        try:
            return self.get_response(request)
        finally:
            if isinstance(client, socket.socket):
                client.settimeout(None)  # the answer (a stream may last minutes) is written without it

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A body that stalled past BODY_IDLE_TIMEOUT_SECONDS: 408 in the route's shape."""
        cause = exception.__cause__ or exception.__context__
        if isinstance(exception, TimeoutError) or (
            isinstance(exception, UnreadablePostError | OSError) and isinstance(cause, TimeoutError)
        ):
            return _refuse(request, RequestTimeout(
                f"the request body stalled: no bytes came for {settings.BODY_IDLE_TIMEOUT_SECONDS} s"))  # fmt: skip
        return None
