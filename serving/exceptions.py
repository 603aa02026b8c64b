"""Errors of the /v1 serving path: the gateway, the worker's stream and the web side's tokenizer."""

from core.exceptions import DomainError, InvalidInput, ServiceUnavailable


class ContextLengthExceeded(InvalidInput):
    code = "context_length_exceeded"


class WorkerLost(ServiceUnavailable):
    code = "worker_lost"


class QueueFull(ServiceUnavailable):
    code = "model_overloaded"
    headers = {"Retry-After": "2"}


class NoWorker(ServiceUnavailable):
    """No infer worker is running: the call would only wait for its timeout. Nothing was charged."""

    code = "no_worker"
    headers = {"Retry-After": "5"}


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
