"""The project's 404 answer: JSON for the APIs (a client of an API reads JSON, never an HTML page), Django's page
for the web."""

from django.http import HttpRequest, JsonResponse
from django.views import defaults

from marketplace.api.errors import request_error


def not_found(request: HttpRequest, exception=None):
    message = f"Invalid URL ({request.method} {request.path})"
    if request.path.startswith(("/v1/", "/api/v1/")):  # the OpenAI-shaped APIs
        return JsonResponse(request_error(message), status=404)
    if request.path.startswith("/api/"):  # the Hugging Face protocol
        response = JsonResponse({"error": message}, status=404)
        response["X-Error-Code"] = "EntryNotFound"
        response["X-Error-Message"] = message
        return response
    return defaults.page_not_found(request, exception)
