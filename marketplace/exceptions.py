"""Domain errors. Services raise these; the API layer maps them to HTTP answers in one place."""


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


class InsufficientFunds(DomainError):
    """An account does not hold enough credits for a payout or refund."""

    status_code = 402
    code = "insufficient_funds"


class RateLimited(DomainError):
    """Over a per-key request or token rate. The client may retry after `retry_after` seconds."""

    status_code = 429
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, limit_type: str, headers: dict[str, str]):
        super().__init__(message)
        self.error_type = limit_type  # OpenAI sends "requests" or "tokens" as the error type
        self.headers = headers


class InsufficientQuota(DomainError):
    """Out of credit, or over the key's spend cap. Retrying will not help until someone acts."""

    status_code = 429
    code = "insufficient_quota"
    error_type = "insufficient_quota"
    headers = {"x-should-retry": "false"}


class ServiceUnavailable(DomainError):
    """A backing service (Redis, the database) cannot be reached. Nothing was charged; retry shortly."""

    status_code = 503
    code = "service_unavailable"
    error_type = "server_error"
    headers = {"Retry-After": "1"}


# The /v1 calls (gateway, metering)


class ModelNotFound(NotFound):
    code = "model_not_found"


class ContextLengthExceeded(InvalidInput):
    code = "context_length_exceeded"


class WorkerLost(ServiceUnavailable):
    code = "worker_lost"


class QueueFull(ServiceUnavailable):
    code = "model_overloaded"
    headers = {"Retry-After": "2"}


class GenerationFailed(DomainError):
    """The model failed while generating this call (non-finite logits, a failed draw): an error, never a finish."""

    status_code = 500
    code = "generation_failed"
    error_type = "server_error"


class GatewayTimeout(DomainError):
    status_code = 504
    code = "timeout"
    error_type = "server_error"


# The web side's tokenizer (tokenization.py): not answers of their own; the gateway turns them into DomainErrors


class TokenizerFilesMissing(Exception):
    """The checkpoint has neither tokenizer.json nor vocab.json with merges.txt."""


class TemplateRunaway(Exception):
    """A chat template ran past RENDER_SECONDS or rendered more than MAX_RENDERED_CHARS."""
