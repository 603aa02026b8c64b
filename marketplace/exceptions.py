"""Domain errors. Services raise these; the API layer maps them to HTTP answers in one place."""


class DomainError(Exception):
    """A request that the rules of the store refuse. Subclasses set the HTTP status and a stable code."""

    status_code = 400
    code = "bad_request"

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
