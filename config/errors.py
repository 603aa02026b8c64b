"""The project's 404 answer: JSON for the APIs (a client of an API reads JSON, never an HTML page), Django's page
for the web."""

import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults

from core.errors import error_body, request_error
from core.exceptions import DomainError, InvalidInput, PayloadTooLarge
from registry.api.protocol import error_response
from registry.exceptions import EntryNotFound

# The APIs that answer errors in OpenAI's shape: /v1 and our own JSON API (DRF). The rest of /api/ and the file
# routes speak the Hugging Face protocol. config/openapi.py documents each route's errors from this.
OPENAI_SHAPED = re.compile(r"^/(v1/|api/v1/|api/keys|api/uploads|api/payments/|api/models/[^/]+/[^/]+/commits/)")
HF_FILE_ROUTE = re.compile(r"^/[^/]+/[^/]+/resolve/")  # a file URL that named no route (a newline in the path)
LFS_ROUTE = re.compile(r"^/[^/]+/[^/]+\.git/info/lfs/")  # git-LFS's batch API under a name that is no repository


def api_error(request: HttpRequest, exc: DomainError) -> JsonResponse:
    """A refusal outside any view: the OpenAI error shape on the OpenAI-shaped APIs, the Hugging Face protocol's
    (`{"error": message}`, X-Error-Code where it has one) everywhere else."""
    if OPENAI_SHAPED.match(request.path):
        return JsonResponse(error_body(exc), status=exc.status_code, headers=exc.headers)
    return error_response(exc)


def is_api(request: HttpRequest) -> bool:
    """Whether the path is one of the JSON APIs (OpenAI's shape or the Hugging Face protocol's), not a web page."""
    path = request.path
    return bool(OPENAI_SHAPED.match(path) or path.startswith("/api/") or HF_FILE_ROUTE.match(path)
                or LFS_ROUTE.match(path))  # fmt: skip


def refusal(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """A refusal outside any view, for whoever asked: JSON in the API's shape, or the web's error page."""
    if is_api(request):
        return api_error(request, exc)
    page = render(request, "refused.html", {"status": exc.status_code, "message": exc.message},
                  status=exc.status_code)  # fmt: skip
    for name, value in exc.headers.items():
        page[name] = value
    return page


def bad_request(request: HttpRequest, exception=None):
    """Django's answer to a request it refused before or outside a view: a body over DATA_UPLOAD_MAX_MEMORY_SIZE
    (or too many fields) is 413 in the API's JSON shape; other refusals 400, JSON on the APIs."""
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return api_error(request, PayloadTooLarge(f"the request body is over the limit of {limit} bytes"))
    if is_api(request):
        return api_error(request, InvalidInput(f"bad request ({type(exception).__name__})"))
    return defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception=None):
    message = f"Invalid URL ({request.method} {request.path})"
    if OPENAI_SHAPED.match(request.path):
        return JsonResponse(request_error(message), status=404)
    if is_api(request):  # the Hugging Face protocol (OpenAI's shape answered above)
        return error_response(EntryNotFound(message))
    return defaults.page_not_found(request, exception)
