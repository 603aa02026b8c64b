"""/api/schema/ describes every JSON route: drf-spectacular introspects the DRF views, and this hook adds the
routes that are plain Django views (the Hugging Face protocol and /v1, described in openapi_protocols.yaml) and
documents the refusals every operation may answer, in that route's error shape."""

import functools
from pathlib import Path

import yaml

from config.errors import OPENAI_SHAPED

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# What any operation may answer besides success: bad input, no or a bad key, a key without the scope, a missing
# (or someone else's private) object, a conflict, a body over the limit, a rate limit or spent quota, a backing
# service down (Redis, the database: nothing was charged).
REFUSALS = {
    "400": "Bad input: the message says what and `param` (where there is one) which field.",
    "401": "No key, or a key that is wrong, revoked or expired.",
    "403": "The key lacks the scope this route needs, or the caller may not do this.",
    "404": "No such object, or one the caller may not see (the same answer, so nothing leaks).",
    "408": "The request body stopped arriving (no byte for BODY_IDLE_TIMEOUT_SECONDS).",
    "409": "The request conflicts with the current state (a name taken, a stale parent, a limit reached).",
    "413": "The body is over this route's limit.",
    "429": "A rate limit or the key's spend cap; `Retry-After` says when to retry.",
    "503": "A backing service is unavailable; nothing was charged. `Retry-After` says when to retry.",
}


# Request bodies read by a serializer with accounts.serializers.KnownFieldsOnly: an undeclared field is a 400
CLOSED_BODIES = {"ApiKeyCreate"}


@functools.cache
def _protocol_routes() -> dict:
    return yaml.safe_load((Path(__file__).with_name("openapi_protocols.yaml")).read_text())


def complete_schema(result: dict, generator, request, public: bool) -> dict:  # noqa: ARG001  (a postprocessing hook)
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    extra = _protocol_routes()
    result["paths"].update(extra["paths"])
    components = result.setdefault("components", {})
    for kind, entries in extra["components"].items():
        components.setdefault(kind, {}).update(entries)
    components["schemas"].update(ERROR_SCHEMAS)
    for name, schema in components["schemas"].items():  # bodies whose serializer refuses undeclared fields
        if name.removesuffix("Request") in CLOSED_BODIES:
            schema["additionalProperties"] = False
    responses = components.setdefault("responses", {})
    responses["OpenAIError"] = _error_response("#/components/schemas/OpenAIError", "An error in OpenAI's shape.")
    responses["HubError"] = _error_response("#/components/schemas/HubError", "An error in the Hub's shape.")
    for path, item in result["paths"].items():
        shape = "OpenAIError" if OPENAI_SHAPED.match(path) else "HubError"
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            answers = operation.setdefault("responses", {})
            for status, meaning in REFUSALS.items():
                answers.setdefault(status, {"$ref": f"#/components/responses/{shape}", "description": meaning})
    result["paths"] = dict(sorted(result["paths"].items()))
    return result


def _error_response(schema_ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}


ERROR_SCHEMAS = {
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": "string", "nullable": True},
                    "code": {"type": "string", "nullable": True},
                },
            }
        },
    },
    "HubError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
        "description": "The Hugging Face Hub's error body; `X-Error-Code` names RepoNotFound, RevisionNotFound, "
        "EntryNotFound or GatedRepo where the Hub would.",
    },
}
