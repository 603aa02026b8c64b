"""One exception handler for the JSON API: DomainError -> its status and `{"error": {...}}`."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from marketplace.exceptions import DomainError


def error_body(exc: DomainError) -> dict:
    """The OpenAI error shape, used by every JSON API of the store."""
    return {"error": {"message": exc.message, "type": exc.error_type, "param": exc.param, "code": exc.code}}


def request_error(message: str) -> dict:
    """The OpenAI error shape for a request that matches no endpoint or method: no param, no code."""
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc), status=exc.status_code, headers=exc.headers)
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        message = str(detail) if detail is not None else str(response.data)
        code = getattr(detail, "code", None) or "invalid_request"
        error_type = "invalid_request_error" if response.status_code < 500 else "server_error"
        response.data = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return response
