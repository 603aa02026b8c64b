"""One exception handler for the JSON API: DomainError -> its status and `{"error": {...}}`."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from marketplace.exceptions import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"error": {"message": exc.message, "type": type(exc).__name__, "param": exc.param, "code": exc.code}}
        return Response(body, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        message = str(detail) if detail is not None else str(response.data)
        code = getattr(detail, "code", None) or "invalid_request"
        response.data = {"error": {"message": message, "type": type(exc).__name__, "param": None, "code": code}}
    return response
