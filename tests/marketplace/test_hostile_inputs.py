"""Inputs a hostile probe sent to /v1 and the billing API that answered 500 (issue #10, finding 7): each is now a
400 in the OpenAI error shape, and nothing is held or charged."""

import json

import pytest

from marketplace.models import AccountKind, Reservation, UsageRecord
from marketplace.money import MICRO
from marketplace.services import ledger

pytestmark = pytest.mark.django_db


def post(probe, key, path, body: str):
    return probe.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/completions", '{"model": "alice/tiny-gpt", "prompt": ' + "[" * 50_000 + "]" * 50_000 + "}", None),
        ("/v1/chat/completions", "[" * 50_000 + "]" * 50_000, None),
        ("/v1/completions", json.dumps({"model": "alice/ti\x00ny-gpt", "prompt": "x"}), "model"),
        ("/v1/chat/completions", json.dumps({"model": "alice/tiny-gpt\x00", "messages": [{"role": "user",
                                                                                          "content": "x"}]}), "model"),
        ("/v1/completions", '{"model": "alice/tiny-gpt", "prompt": "a\\ud800b"}', None),
        ("/v1/chat/completions", '{"model": "alice/tiny-gpt", "messages": [{"role": "user", "content": "\\udfff"}]}',
         None),
        ("/v1/completions", '{"model": "alice/tiny-gpt", "prompt": "x", "stop": ["\\ud800"]}', None),
    ],
    ids=["nested-prompt", "nested-body", "nul-model", "nul-model-chat", "surrogate-prompt", "surrogate-message",
         "surrogate-stop"],
)  # fmt: skip
def test_hostile_v1_bodies_are_400_in_the_openai_shape_and_hold_nothing(
    probe, funded_consumer, make_key, listing, path, body, param
):
    response = post(probe, make_key(funded_consumer, scopes=("infer",)), path, body)

    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert Reservation.objects.count() == 0 and UsageRecord.objects.count() == 0
    wallet = ledger.account_for(funded_consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0)


@pytest.mark.parametrize("url", ["/v1/models/alice%00/tiny", "/v1/models?x=%00"])
def test_nul_in_v1_urls_is_400_in_the_openai_shape(probe, consumer, make_key, url):
    response = probe.get(url, HTTP_AUTHORIZATION=f"Bearer {make_key(consumer, scopes=('infer',))}")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "the URL holds a NUL character (%00)"


@pytest.mark.parametrize(
    ("query", "param"),
    [("end=0001-01-01", "end"), ("start=0001-01-01", "start"), ("end=9999-12-31", "end")],
)
def test_usage_dates_out_of_range_are_400(probe, consumer, make_key, query, param):
    response = probe.get(f"/api/v1/usage?{query}", HTTP_AUTHORIZATION=f"Bearer {make_key(consumer)}")

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_a_deeply_nested_body_to_a_drf_endpoint_is_400(probe, consumer, make_key):
    from accounts.models import ApiKey

    key = make_key(consumer)
    response = post(probe, key, "/api/keys", '{"name": ' + "[" * 50_000 + "]" * 50_000 + "}")

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]["message"]
    assert ApiKey.objects.count() == 1


def test_drf_validation_errors_are_a_sentence_not_a_python_repr(probe, consumer, make_key):
    key = make_key(consumer)

    missing = post(probe, key, "/api/keys", json.dumps({"scopes": ["read"]}))
    bad_choice = post(probe, key, "/api/keys", json.dumps({"name": "ci", "scopes": ["read", "admin"]}))

    assert missing.status_code == bad_choice.status_code == 400
    assert missing.json()["error"] == {"message": "name: This field is required.", "type": "invalid_request_error",
                                       "param": "name", "code": "invalid_input"}  # fmt: skip
    assert bad_choice.json()["error"]["message"] == 'scopes.1: "admin" is not a valid choice.'
    assert bad_choice.json()["error"]["param"] == "scopes.1"


@pytest.mark.parametrize(
    ("path", "size"),
    [("/api/keys", 17 * 1024 * 1024), ("/v1/chat/completions", 5 * 1024 * 1024), ("/api/repos/create", 2 * 1024**2)],
)
def test_bodies_over_the_limit_answer_413_in_json(probe, consumer, make_key, path, size):
    from accounts.models import ApiKey

    key = make_key(consumer)
    response = post(probe, key, path, json.dumps({"name": "x" * size}))

    assert response.status_code == 413
    error = response.json()["error"]
    assert "bytes" in (error if isinstance(error, str) else error["message"])
    assert ApiKey.objects.count() == 1


def test_keys_per_user_are_capped(probe, consumer, make_key, settings):
    from accounts.models import ApiKey

    settings.MAX_KEYS_PER_USER = 2
    key = make_key(consumer)
    assert post(probe, key, "/api/keys", json.dumps({"name": "second", "scopes": ["read"]})).status_code == 201

    third = post(probe, key, "/api/keys", json.dumps({"name": "third", "scopes": ["read"]}))

    assert third.status_code == 409
    assert third.json()["error"]["message"] == "you have 2 active API keys, the most allowed: revoke one first"
    assert list(ApiKey.objects.order_by("pk").values_list("name", flat=True)) == ["test", "second"]


@pytest.mark.parametrize(
    ("path", "extra", "named"),
    [("/v1/completions", {"temprature": 0.5}, "temprature"), ("/v1/chat/completions", {"foo": 1, "bar": 2}, "bar, foo"),
     ("/v1/completions", {"max_completion_tokens": 4}, "max_completion_tokens")],
)  # fmt: skip
def test_unknown_v1_fields_are_400_naming_them(probe, funded_consumer, make_key, listing, path, extra, named):
    body = {"model": "alice/tiny-gpt", **extra}
    body.update({"prompt": "x"} if path == "/v1/completions" else {"messages": [{"role": "user", "content": "x"}]})

    response = post(probe, make_key(funded_consumer, scopes=("infer",)), path, json.dumps(body))

    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"Unrecognized request argument supplied: {named}"
    assert Reservation.objects.count() == 0
