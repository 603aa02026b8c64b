"""Every `data:` event of a stream is the chunk the schema documents (issue #22, item 10): the raw SSE of both
endpoints, with n, logprobs and usage, validated against /api/schema/'s CompletionChunk and ChatCompletionChunk."""

import json

import httpx2 as httpx
import jsonschema
import pytest
import yaml

from marketplace.money import MICRO
from marketplace.services import ledger, listings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def streamed(live_server, consumer, make_key, served_commit, infer_worker):
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    headers = {"Authorization": f"Bearer {make_key(consumer, scopes=('infer',))}"}
    schema = yaml.safe_load(httpx.get(f"{live_server.url}/api/schema/").text)  # the document as served

    def stream(path: str, body: dict) -> tuple[list[dict], dict]:
        events = []
        with httpx.stream("POST", f"{live_server.url}/v1/{path}", json=body, headers=headers, timeout=60) as answer:
            assert answer.status_code == 200
            for line in answer.iter_lines():
                if line.startswith("data: "):
                    events.append(line.removeprefix("data: "))
        assert events[-1] == "[DONE]"
        return [json.loads(event) for event in events[:-1]], schema

    return stream


def validator(schema: dict, name: str) -> jsonschema.Draft4Validator:
    wrapped = {"$ref": f"#/components/schemas/{name}", "components": schema["components"]}
    return jsonschema.Draft4Validator(_nullable(wrapped))


def _nullable(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it (type or null)."""
    if isinstance(node, dict):
        node = {key: _nullable(value) for key, value in node.items()}
        if node.pop("nullable", False):
            if "type" in node:
                node["type"] = [node["type"], "null"]
            else:
                node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    return node


def checked(chunks: list[dict], schema: dict, name: str) -> int:
    """Validate every chunk against the schema's `name`; the number of tokens they carry (each with its logprobs)."""
    check = validator(schema, name)
    for chunk in chunks:
        check.validate(chunk)
    return sum(1 for chunk in chunks for choice in chunk["choices"] if choice["logprobs"] is not None)


@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_chunks_match_the_schema(streamed, include_usage):
    body = {
        "model": "alice/tiny-gpt",
        "messages": [{"role": "user", "content": "def"}],
        "max_tokens": 5,
        "n": 2,
        "logprobs": True,
        "top_logprobs": 2,
        "stream": True,
        "stream_options": {"include_usage": include_usage},
    }
    chunks, schema = streamed("chat/completions", body)

    scored = checked(chunks, schema, "ChatCompletionChunk")
    assert [c["choices"][0]["delta"] for c in chunks[:2]] == [{"role": "assistant", "content": ""}] * 2
    assert ("usage" in chunks[0]) is include_usage
    if include_usage:
        assert all(c["usage"] is None for c in chunks[:-1]) and chunks[-1]["choices"] == []
        assert chunks[-1]["usage"]["completion_tokens"] == scored >= 2  # n = 2: each choice made a token at least


def test_completion_chunks_match_the_schema(streamed):
    body = {
        "model": "alice/tiny-gpt",
        "prompt": "def",
        "max_tokens": 4,
        "n": 2,
        "logprobs": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    chunks, schema = streamed("completions", body)

    scored = checked(chunks, schema, "CompletionChunk")
    assert {c["choices"][0]["finish_reason"] for c in chunks[-3:-1]} <= {"stop", "length"}
    assert chunks[-1]["usage"]["completion_tokens"] == scored >= 2  # n = 2: each choice made a token at least
