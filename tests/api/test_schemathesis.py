"""Schemathesis against our own OpenAPI schema (/api/schema/, issue #10): every operation, with two identities (the
owner of a model and another user), a bounded number of generated requests each, valid by the schema and not.
No server error, no status code the schema does not document, no response that breaks its schema, and no request
that is valid by the schema refused as malformed. `make schemathesis` runs the same with many more examples (its
figures are in docs/security.md)."""

import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as ALL_CHECKS
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as accounts
from config.wsgi import application
from registry import services as registry

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", 6))  # per operation, identity and mode


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value) -> dict:
    """An HF commit body: the generated string as it is (a header line, then operations)."""
    return {"data": value.encode() if isinstance(value, str) else json.dumps(value).encode()}


SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", application)
OPERATIONS = {operation.label: operation for operation in (r.ok() for r in SCHEMA.get_all_operations())}
pytestmark = pytest.mark.django_db
# Rules between fields (or against the clock) that a JSON schema cannot state: a request valid by the schema may
# break one and get 400 naming that field. Any other 400 to a valid request fails the check.
CROSS_FIELD_RULES = {
    "GET /api/v1/usage": {"start", "end"},  # start <= end, at most 366 days, dates the calendar can shift
    "GET /api/v1/earnings": {"start", "end"},  # the same period rules
    "POST /api/keys": {"expires_at"},  # in the future
    "POST /api/repos/create": {"private", "visibility"},  # not both, unless they agree
    "POST /api/uploads": {"path", "size"},  # a path the repository may hold; a size within the quota
    "POST /api/uploads/commit": {"uploads"},  # sessions that finished
    # fits the model's context; a servable revision; n <= beams; stream_options only with stream: true
    "POST /v1/completions": {"prompt", "model", "n", "stream_options"},
    "POST /v1/chat/completions": {"messages", "model", "n", "stream_options"},
    "POST /v1/files": {"file"},  # a dataset whose every line is an example (checked whole at upload)
    "POST /v1/fine_tuning/jobs": {
        "model",
        "training_file",
        "validation_file",
        "suffix",
        "metadata",
        "method.type",
        "method.pretrain.seq_len",
    },  # their files; 'scratch' with pretrain; a preset's context
    # the Evals API's subset (docs/evaluation.md): its config and graders' shapes, templates naming the schema's fields
    "POST /v1/evals": {"data_source_config", "testing_criteria", "metadata"},
    "POST /v1/evals/{eval_id}": {"metadata"},
    "POST /v1/evals/{eval_id}/runs": {"data_source", "metadata"},  # a model the caller may call, rows that fit
}
# Operations whose every input the schema leaves open (any string, any bytes): no request breaks their schema,
# so there is nothing to generate in negative mode.
NOTHING_TO_NEGATE = {"POST /api/payments/{provider_name}/webhook", "PUT /api/lfs/upload/{token}",
                     "POST /cas/v1/shards", "GET /cas/v1/fetch/{grant}", "GET /healthz", "GET /readyz"}  # fmt: skip


def within_cross_field_rules(ctx, response, case):
    """positive_data_acceptance, except a 400 that names a field of one of the operation's CROSS_FIELD_RULES."""
    allowed = CROSS_FIELD_RULES.get(case.operation.label, set())
    if response.status_code == 400 and allowed:
        error = response.json().get("error")
        param = error.get("param") if isinstance(error, dict) else None
        if isinstance(param, str) and any(
            param == name or param.startswith((f"{name}.", f"{name}[")) for name in allowed
        ):
            return None  # the field itself or one inside it
        if isinstance(error, str) and any(f"'{name}'" in error for name in allowed):  # the Hub's shape: a sentence
            return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = {
    GenerationMode.POSITIVE: [not_a_server_error, status_code_conformance, response_schema_conformance,
                              within_cross_field_rules],
    GenerationMode.NEGATIVE: [not_a_server_error, status_code_conformance, response_schema_conformance],
}  # fmt: skip
if os.environ.get("SCHEMATHESIS_CHECKS") == "all":  # `make schemathesis CHECKS=all`: every check schemathesis has,
    EVERY = [check for check in ALL_CHECKS.get_all() if check is not positive_data_acceptance]  # the CLI's --checks all
    CHECKS = {GenerationMode.POSITIVE: [*EVERY, within_cross_field_rules], GenerationMode.NEGATIVE: EVERY}


@pytest.fixture
def keep_the_connection():
    """As Django's test client does: requests made through WSGI in this process keep the test's connection (and
    its transaction, which holds the test's data) instead of closing it when they end."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def identities(provider, outsider, settings, keep_the_connection):
    """alice owns alice/tiny (one commit); mallory is another user. Both have a key with every scope."""
    settings.INFER_QUEUE_LIMIT = 0  # a call that passes every check answers 503 at the queue instead of waiting
    model = registry.create_model(owner=provider, name="tiny")
    blob = registry.ingest_upload(user=provider, incoming_stream=[b"{}"], size=2)
    registry.commit_changes(model_id=model.pk, author=provider, message="x",
                            operations=[registry.AddFile("config.json", blob)])  # fmt: skip
    scopes = ["read", "write", "infer", "finetune"]
    return [accounts.create_api_key(user=user, name="fuzz", scopes=scopes)[1] for user in (provider, outsider)]


@pytest.mark.parametrize("label", sorted(OPERATIONS))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_api_keeps_its_schema(label, mode, identities):
    operation = OPERATIONS[label]
    if mode == GenerationMode.NEGATIVE and label in NOTHING_TO_NEGATE:
        return

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def keeps_it(case):
        for key in identities:
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS[mode])

    keeps_it()


def test_the_schema_documents_every_json_route():
    """The JSON routes of the URL resolver (tests/test_access_matrix.py lists every route), each in the schema with
    its methods. A route added to the API must be added here and to the schema."""
    assert len(OPERATIONS) == 74
    paths = {label.split(" ", 1)[1] for label in OPERATIONS}
    assert {"/v1/models", "/v1/models/{model_id}", "/v1/completions", "/v1/chat/completions"} <= paths
    assert {"/api/models/{namespace}/{name}/commit/{revision}", "/{namespace}/{name}/resolve/{revision}/{path}",
            "/{namespace}/{name}.git/info/lfs/objects/batch", "/api/lfs/upload/{token}",
            "/api/models/{namespace}/{name}/xet-{kind}-token/{revision}", "/cas/v1/xorbs/{prefix}/{hash}",
            "/cas/v1/shards", "/cas/v1/chunks/{prefix}/{hash}", "/cas/v{version}/reconstructions/{file_id}"} <= paths  # fmt: skip
    assert {
        "/api/keys",
        "/api/keys/{key_id}",
        "/api/v1/credits",
        "/api/v1/usage",
        "/api/uploads",
        "/api/v1/listings",
    } <= paths
    assert {"/v1/files", "/v1/files/{file_id}", "/v1/files/{file_id}/content", "/v1/fine_tuning/jobs",
            "/v1/fine_tuning/jobs/{job_id}", "/v1/fine_tuning/jobs/{job_id}/{action}",
            "/v1/fine_tuning/jobs/{job_id}/events", "/v1/fine_tuning/jobs/{job_id}/checkpoints"} <= paths  # fmt: skip
    assert {"/v1/evals", "/v1/evals/{eval_id}", "/v1/evals/{eval_id}/runs", "/v1/evals/{eval_id}/runs/{run_id}",
            "/v1/evals/{eval_id}/runs/{run_id}/cancel", "/v1/evals/{eval_id}/runs/{run_id}/output_items",
            "/v1/evals/{eval_id}/runs/{run_id}/output_items/{item_id}", "/api/v1/leaderboard",
            "/api/v1/models/{namespace}/{name}/evaluations"} <= paths  # fmt: skip
