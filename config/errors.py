"""The project's 404 answer: JSON for the APIs (a client of an API reads JSON, never an HTML page), Django's page
for the web."""

from django.http import HttpRequest, JsonResponse
from django.views import defaults

from marketplace.api.errors import request_error
from registry.api.protocol import error_response
from registry.exceptions import EntryNotFound


def not_found(request: HttpRequest, exception=None):
    message = f"Invalid URL ({request.method} {request.path})"
    if request.path.startswith(("/v1/", "/api/v1/")):  # the OpenAI-shaped APIs
        return JsonResponse(request_error(message), status=404)
    if request.path.startswith("/api/"):  # the Hugging Face protocol: its error body and X-Error-Code
        return error_response(EntryNotFound(message))
    return defaults.page_not_found(request, exception)
