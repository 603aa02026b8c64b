"""Refusals of the money side leave the API in the OpenAI error shape, with the headers clients act on."""

from core.errors import exception_handler
from core.exceptions import RateLimited, ServiceUnavailable
from marketplace.exceptions import InsufficientQuota


def test_rate_limited_is_429_with_retry_after_and_rate_headers():
    headers = {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0",
               "x-ratelimit-limit-tokens": "100", "x-ratelimit-remaining-tokens": "40", "Retry-After": "20"}  # fmt: skip
    response = exception_handler(RateLimited("Rate limit reached", limit_type="requests", headers=headers), {})

    assert response.status_code == 429
    assert response.data == {
        "error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    assert {name: response[name] for name in headers} == headers


def test_out_of_credit_is_429_insufficient_quota_that_should_not_be_retried():
    response = exception_handler(InsufficientQuota("Top up your credits."), {})

    assert (response.status_code, response["x-should-retry"]) == (429, "false")
    assert response.data["error"] == {
        "message": "Top up your credits.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }


def test_backing_service_down_is_503_with_retry_after():
    response = exception_handler(ServiceUnavailable("rate limiter unavailable"), {})

    assert (response.status_code, response["Retry-After"]) == (503, "1")
    assert response.data["error"]["type"] == "server_error"


def test_other_v1_paths_and_methods_answer_in_the_openai_shape(client):
    unknown = client.post("/v1/embeddings", data={}, content_type="application/json")
    wrong_method = client.get("/v1/chat/completions")

    assert (unknown.status_code, unknown.json()) == (404, {"error": {
        "message": "Invalid URL (POST /v1/embeddings)", "type": "invalid_request_error", "param": None, "code": None,
    }})  # fmt: skip
    assert (wrong_method.status_code, wrong_method["Allow"]) == (405, "POST")
    assert wrong_method.json()["error"]["message"] == "Method Not Allowed (GET /v1/chat/completions): use POST"


def test_other_api_paths_answer_json_and_web_pages_html(client, db):
    ours = client.get("/api/v1/nothing")
    hub = client.get("/api/nothing/at/all")
    page = client.get("/no/such/page/here")

    assert (ours.status_code, ours.json()["error"]["message"]) == (404, "Invalid URL (GET /api/v1/nothing)")
    assert (hub.status_code, hub["X-Error-Code"], hub.json()) == (
        404, "EntryNotFound", {"error": "Invalid URL (GET /api/nothing/at/all)"}
    )  # fmt: skip
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
