"""Bearer-key authentication shared by DRF views and the plain Django views of the HF protocol."""

from django.http import HttpRequest
from rest_framework import authentication, exceptions, permissions

from accounts import services
from accounts.models import ApiKey, User
from core.exceptions import NotAuthenticated, PermissionDenied


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Authorization header must be 'Bearer <key>'")
    return token.strip()


def authenticate_request(request: HttpRequest) -> tuple[User | None, ApiKey | None]:
    """The caller: (user, key) for a bearer key, (user, None) for a browser session, (None, None) if anonymous.

    A bearer header that is present but wrong is an error (401), never silently anonymous."""
    token = bearer_token(request)
    if token is not None:
        api_key = services.authenticate_key(raw_key=token)
        return api_key.user, api_key
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user, None
    return None, None


def has_scope(api_key: ApiKey | None, scope: str) -> bool:
    """A browser session acts with every scope; a key only with its own."""
    return api_key is None or api_key.has_scope(scope)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """DRF adapter: `Authorization: Bearer gpts_...`."""

    def authenticate(self, request):
        try:
            token = bearer_token(request._request)
            if token is None:
                return None
            api_key = services.authenticate_key(raw_key=token)
        except NotAuthenticated as exc:
            raise exceptions.AuthenticationFailed(exc.message) from None
        return api_key.user, api_key

    def authenticate_header(self, request):  # noqa: ARG002  (DRF's signature)
        return 'Bearer realm="api"'


class ScopeRequired(permissions.BasePermission):
    """A request made with an API key needs the view's `required_scope` (one scope, a tuple of which any one
    will do, or a dict of either by HTTP method; docs/security.md lists them). A view that
    names none refuses every key: it fails closed. Browser sessions act with every scope; anonymous callers are
    left to the other permissions."""

    def has_permission(self, request, view) -> bool:
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        if api_key is None:
            return True
        required = getattr(view, "required_scope", None)
        if isinstance(required, dict):  # per method: {"GET": "read", "POST": "write"}
            required = required.get("GET" if request.method == "HEAD" else request.method)
        if required is None:
            raise PermissionDenied("API keys cannot be used here: sign in")
        choices = (required,) if isinstance(required, str) else tuple(required)
        if not any(api_key.has_scope(scope) for scope in choices):
            named = " or ".join(f"'{scope}'" for scope in choices)
            raise PermissionDenied(f"This API key lacks the {named} scope")
        return True
