"""One exception handler for the JSON API: DomainError -> its status and `{"error": {...}}`."""

from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import DomainError


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
        error_type = "invalid_request_error" if response.status_code < 500 else "server_error"
        if isinstance(exc, ValidationError):
            param, message = _first_problem(exc.detail)
            code = "invalid_input"
        else:
            detail = response.data.get("detail") if isinstance(response.data, dict) else None
            message, param = str(detail if detail is not None else response.data), None
            code = getattr(detail, "code", None) or "invalid_request"
        response.data = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return response


def _first_problem(detail, path: str = "") -> tuple[str | None, str]:
    """A serializer's errors as one sentence a person reads ("scopes.0: "x" is not a valid choice.") and the
    field it is about, instead of the repr of DRF's nested ErrorDetail lists."""
    if isinstance(detail, dict) and detail:
        name, inner = next(iter(detail.items()))
        field = path if name == "non_field_errors" else f"{path}.{name}" if path else str(name)
        return _first_problem(inner, field)
    if isinstance(detail, list) and detail:
        if all(isinstance(item, str) for item in detail):
            text = " ".join(str(item) for item in detail)
            return (path or None), (f"{path}: {text}" if path else text)
        for index, item in enumerate(detail):
            if item:
                return _first_problem(item, f"{path}.{index}" if path else str(index))
    return (path or None), f"{path}: {detail}" if path else str(detail)
