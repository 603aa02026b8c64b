"""Plumbing shared by the HF Hub protocol views: who is calling, what they may do, how errors look.

Errors are `{"error": "..."}` with the HF `X-Error-Code` header where the protocol has one, which is what
`huggingface_hub` turns into RepositoryNotFoundError, RevisionNotFoundError and EntryNotFoundError."""

import functools
import logging
from typing import cast

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.authentication import authenticate_request, bearer_token, has_scope
from accounts.models import ApiKey, User
from core import json_input
from core.exceptions import DomainError, InvalidInput, NotAuthenticated, PayloadTooLarge, PermissionDenied
from registry.exceptions import RepoNotFound
from registry.models import Model

logger = logging.getLogger(__name__)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class HubRequest(HttpRequest):
    """A request that hf_view has authenticated: its caller (None: anonymous) and the key it came with."""

    caller: User | None
    api_key: ApiKey | None


def header_text(text: str) -> str:
    """Text made fit for one header line: printable ASCII only. A server (gunicorn) refuses to send a header that
    holds a control character, so echoing `b%10` from a URL answered 500; other characters are escaped as
    `\\xNN` / `\\uNNNN`, and runs of white space become one space."""
    text = " ".join(text.split())
    return "".join(char if " " <= char <= "~" else ascii(char)[1:-1] for char in text)


def error_response(exc: DomainError) -> JsonResponse:
    response = JsonResponse({"error": exc.message}, status=exc.status_code)
    hf_code = getattr(exc, "hf_code", None)
    if hf_code:
        response["X-Error-Code"] = hf_code
        response["X-Error-Message"] = header_text(exc.message)  # the message may echo a client's path
    if exc.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def method_not_allowed(request: HttpRequest, methods: tuple[str, ...]) -> JsonResponse:
    """405 with the methods the route takes in `Allow`."""
    response = JsonResponse({"error": f"{request.method} is not allowed here"}, status=405)
    response["Allow"] = ", ".join(methods)
    return response


def hf_view(*, methods: tuple[str, ...], scope: str | None = None, login_required: bool = False):
    """Wrap a protocol view: allowed methods, authentication, scope, and DomainError -> HTTP answer.

    Writes accept only bearer keys (never a browser session), so these csrf-exempt routes cannot be driven
    by another site through a logged-in browser."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                return method_not_allowed(request, methods)
            try:
                if request.method in SAFE_METHODS:
                    user, api_key = authenticate_request(request)
                else:
                    token = bearer_token(request)
                    if token is None:
                        raise NotAuthenticated("This endpoint needs an API key: send 'Authorization: Bearer <key>'")
                    user, api_key = authenticate_request(request)
                if (login_required or scope in ("write", "finetune", "infer")) and user is None:
                    raise NotAuthenticated("This endpoint needs an API key: send 'Authorization: Bearer <key>'")
                if scope and user is not None and not has_scope(api_key, scope):
                    raise PermissionDenied(f"This API key lacks the '{scope}' scope")
                hub_request = cast(HubRequest, request)
                hub_request.caller, hub_request.api_key = user, api_key
                return view(hub_request, *args, **kwargs)
            except DomainError as exc:
                return error_response(exc)

        return wrapper

    return decorate


def caller_of(request: HubRequest) -> User:
    """The caller of a view that hf_view lets through only signed in (a write scope or login_required)."""
    if request.caller is None:
        raise NotAuthenticated("This endpoint needs an API key: send 'Authorization: Bearer <key>'")
    return request.caller


def require_owner(request: HubRequest, model: Model) -> None:
    """Writes are for the owner. Others who can see the model get 403; a private model they cannot see is 404."""
    if model.owner_id != getattr(request.caller, "pk", None):
        if model.is_private:
            raise RepoNotFound(f"Repository not found: {model.repo_id}")
        raise PermissionDenied(f"You cannot write to {model.repo_id}")


def read_json(request: HttpRequest, *, limit: int = 1024 * 1024) -> dict:
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > limit:
        raise PayloadTooLarge(f"JSON body is larger than {limit} bytes")
    payload = json_input.loads(request.read(limit + 1) or b"{}", what="body")
    if not isinstance(payload, dict):
        raise InvalidInput("body must be a JSON object")
    return payload


def base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"
