"""Requests refused before any view sees them."""

from django.http import HttpRequest, HttpResponse

from config.errors import api_error
from core.exceptions import InvalidInput


class RejectNulBytes:
    """A NUL in the path or the query string answers 400. No route or name holds one, PostgreSQL cannot store
    or compare one in text (psycopg raises ValueError), and it answered 500 on every route that looked it up."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return api_error(request, InvalidInput("the URL holds a NUL character (%00)"))
        return self.get_response(request)
