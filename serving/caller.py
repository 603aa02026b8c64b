"""Who calls a /v1 route, and the answers every /v1 view shares: a bearer key with the scope the route needs, or
a signed-in browser session carrying its CSRF token (the model page's playground, the portal's job page); 405 and
every DomainError in the OpenAI error shape."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authentication import CSRFCheck

from accounts.authentication import bearer_token
from accounts.models import ApiKey, User
from accounts.services import authenticate_key
from core.errors import error_body, request_error
from core.exceptions import DomainError, NotAuthenticated, PermissionDenied


def error_response(exc: DomainError) -> JsonResponse:
    return JsonResponse(error_body(exc), status=exc.status_code, headers=exc.headers)


def caller(request: HttpRequest, *, scope: str) -> tuple[User, ApiKey | None]:
    """The user and key of a call (key None for a browser session, which is charged with the default limits), or
    NotAuthenticated / PermissionDenied."""
    token = bearer_token(request)
    if token is None:
        user = _session_caller(request)
        if user is None:
            raise NotAuthenticated("You didn't provide an API key: send 'Authorization: Bearer <key>'.")
        return user, None
    api_key = authenticate_key(raw_key=token)
    if not api_key.has_scope(scope):
        raise PermissionDenied(f"This API key lacks the '{scope}' scope")
    return api_key.user, api_key


def _no_view(request: HttpRequest) -> HttpResponse:  # noqa: ARG001  (a view's signature)
    """The view the CSRF check is asked about: none (the check only needs to know it is not csrf_exempt)."""
    return HttpResponse(status=204)


def _session_caller(request: HttpRequest):
    """The signed-in user of a browser call, which must carry the CSRF token as forms do, since the browser sends
    the session cookie by itself. None when not signed in."""
    if not request.user.is_authenticated:
        return None
    check = CSRFCheck(_no_view)  # DRF's: gives the reason instead of Django's HTML page
    check.process_request(request)
    reason = check.process_view(request, _no_view, (), {})
    if reason:
        raise PermissionDenied(f"CSRF check failed ({reason}): a browser call needs the page's CSRF token")
    return request.user


def _not_allowed(request: HttpRequest, allowed: list[str]) -> JsonResponse:
    message = f"Method Not Allowed ({request.method} {request.path}): use {', '.join(allowed)}"
    response = JsonResponse(request_error(message), status=405)
    response["Allow"] = ", ".join(allowed)
    return response


def v1_view(scopes: dict[str, str]):
    """A /v1 view taking (request, user, api_key, ...): the methods it serves, each with the key scope it needs."""

    def decorate(view):
        def wrapped(request: HttpRequest, *args, **kwargs):
            if request.method not in scopes:
                return _not_allowed(request, list(scopes))
            try:
                user, api_key = caller(request, scope=scopes[request.method])
                return view(request, user, api_key, *args, **kwargs)
            except DomainError as exc:
                return error_response(exc)

        wrapped.__name__ = view.__name__
        return csrf_exempt(wrapped)

    return decorate
