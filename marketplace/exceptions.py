"""Errors of the marketplace: money and who may call what."""

from core.exceptions import DomainError, NotFound


class InsufficientFunds(DomainError):
    """An account does not hold enough credits for a payout or refund."""

    status_code = 402
    code = "insufficient_funds"


class InsufficientQuota(DomainError):
    """Out of credit, or over the key's spend cap. Retrying will not help until someone acts."""

    status_code = 429
    code = "insufficient_quota"
    error_type = "insufficient_quota"
    headers = {"x-should-retry": "false"}


class ModelNotFound(NotFound):
    """No model by that id, or none this caller may call (a private model answers the same, never 403)."""

    code = "model_not_found"
