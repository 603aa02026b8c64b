"""The DomainError tree: errors every app raises. Services raise these; `core.errors` shapes them as HTTP answers
in one place. Each app adds its own subclasses in its `exceptions.py`."""


class DomainError(Exception):
    """A request that the rules of the store refuse. Subclasses set the HTTP status and a stable code."""

    status_code = 400
    code = "bad_request"
    error_type = "invalid_request_error"  # the OpenAI error `type`, which OpenAI gives every request it refuses
    headers: dict[str, str] = {}

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidInput(DomainError):
    status_code = 400
    code = "invalid_input"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "invalid_api_key"


class PermissionDenied(DomainError):
    status_code = 403
    code = "insufficient_scope"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class QuotaExceeded(DomainError):
    status_code = 413
    code = "storage_quota_exceeded"


class RateLimited(DomainError):
    """Over a per-key request or token rate. The client may retry after `retry_after` seconds."""

    status_code = 429
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, limit_type: str, headers: dict[str, str]):
        super().__init__(message)
        self.error_type = limit_type  # OpenAI sends "requests" or "tokens" as the error type
        self.headers = headers


class ServiceUnavailable(DomainError):
    """A backing service (Redis, the database) cannot be reached. Nothing was charged; retry shortly."""

    status_code = 503
    code = "service_unavailable"
    error_type = "server_error"
    headers = {"Retry-After": "1"}


class RequestTimeout(DomainError):
    """A request body that stopped arriving (config/bodies.py)."""

    status_code = 408
    code = "request_timeout"


class TooManyRequestBodies(DomainError):
    """More request bodies in flight at once for one caller than MAX_CONCURRENT_BODIES_PER_CALLER."""

    status_code = 429
    code = "too_many_uploads"
    error_type = "rate_limit_error"
    headers = {"Retry-After": "5"}
