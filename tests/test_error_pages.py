"""Error pages on the web look like the store (its header and navigation), and say what to do next; the APIs keep
answering JSON."""

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.views import defaults

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_missing_page_has_the_stores_navigation(client):
    response = client.get("/no/such/page/here")

    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page
    assert 'class="brand"' in page and 'href="/models"' in page and 'href="/login"' in page
    assert client.get("/api/v1/nothing").json()["error"]["message"] == "Invalid URL (GET /api/v1/nothing)"


def test_a_stale_form_says_so(provider):
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="alice", password=PASSWORD)
    response = browser.post("/new", {"name": "x"})

    assert response.status_code == 403
    assert "<h1>This form has expired</h1>" in response.content.decode()


@pytest.mark.parametrize(("view", "status", "title"), [
    (defaults.server_error, 500, "Something went wrong on our side"),
    (defaults.permission_denied, 403, "Not allowed"),
    (defaults.bad_request, 400, "Bad request"),
])  # fmt: skip
def test_the_other_error_pages(view, status, title):
    request = RequestFactory().get("/x")
    response = view(request) if view is defaults.server_error else view(request, Exception("x"))

    assert response.status_code == status
    assert f"<h1>{title}</h1>" in response.content.decode()


def test_favicon_ico_is_the_static_icon(client):
    """Browsers ask for /favicon.ico on every site; it answered 404 (issue #23)."""
    response = client.get("/favicon.ico")

    assert (response.status_code, response["Location"]) == (301, "/static/favicon.svg")
    assert finders.find("favicon.svg")  # what collectstatic serves there
