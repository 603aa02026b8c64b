"""The OpenAI-compatible /v1 API: models, completions and chat completions, plain or streamed as SSE.

Plain Django views (not DRF) so that errors, headers and the event stream are byte-for-byte what the `openai`
client expects. The logic lives in serving.gateway; these views parse, call it, and shape the answer."""

import json
import logging
import time
from collections.abc import Iterator

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse

from core import json_input
from core.errors import error_body
from core.exceptions import DomainError, PayloadTooLarge
from marketplace.models import UsageStatus
from marketplace.services import catalogue
from serving import call_spec, gateway, protocol
from serving.caller import v1_view

MAX_BODY_BYTES = 4 * 1024 * 1024
logger = logging.getLogger(__name__)


def _model_json(model, user) -> dict:
    """OpenAI's model object, with OpenRouter's catalogue fields (pricing, context_length, architecture...)."""
    return {"id": model.repo_id, "object": "model", "created": int(model.created_at.timestamp()),
            "owned_by": model.owner.username, **catalogue.model_facts(model, user=user)}  # fmt: skip


@v1_view({"GET": "infer"})
def list_models(request, user, api_key):  # noqa: ARG001  (every /v1 view gets the caller)
    return JsonResponse({"object": "list", "data": [_model_json(m, user) for m in gateway.visible_models(user)]})


@v1_view({"GET": "infer"})
def retrieve_model(request, user, api_key, model_id: str):  # noqa: ARG001  (every /v1 view gets the caller)
    return JsonResponse(_model_json(gateway.describe_model(model_id, user), user))


def _body(request: HttpRequest) -> dict:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if (declared.isdigit() and int(declared) > MAX_BODY_BYTES) or len(request.body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    return json_input.loads(request.body or b"null")


@v1_view({"POST": "infer"})
def completions(request, user, api_key):
    return _serve(call_spec.parse_completion(_body(request)), user, api_key)


@v1_view({"POST": "infer"})
def chat_completions(request, user, api_key):
    return _serve(call_spec.parse_chat(_body(request)), user, api_key)


def _serve(spec: call_spec.CallSpec, user, api_key):
    started = time.monotonic()
    call = gateway.start_call(spec=spec, user=user, api_key=api_key)
    response: StreamingHttpResponse | JsonResponse
    if spec.stream:
        response = StreamingHttpResponse(_sse(call, started), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
    else:
        response = _ChargedAfterSending(_complete(call, started), call=call)
    for name, value in call.headers().items():
        response[name] = value
    return response


class _ChargedAfterSending(JsonResponse):
    """A plain answer, settled when the server has sent it (WSGI servers call `close()` after the last byte), so
    the settle is not part of the caller's latency. Streams settle after their last chunk the same way."""

    def __init__(self, data: dict, *, call: gateway.Call):
        super().__init__(data)
        self._call = call

    def close(self):
        try:
            self._call.finish(latency_ms=self._call.latency_ms)
        except Exception:  # the answer is out; the reservation expires and is voided if this keeps failing
            logger.exception("settling %s failed", self._call.request_id)
        finally:
            super().close()


def _usage(call: gateway.Call) -> dict:
    return {"prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens,
            "total_tokens": call.prompt_tokens + call.completion_tokens}  # fmt: skip


def _envelope(call: gateway.Call, *, chunk: bool) -> dict:
    kind = ("chat.completion.chunk" if chunk else "chat.completion") if call.spec.is_chat else "text_completion"
    prefix = "chatcmpl" if call.spec.is_chat else "cmpl"
    return {"id": f"{prefix}-{call.id}", "object": kind, "created": call.created, "model": call.spec.model,
            "system_fingerprint": call.commit.sha}  # fmt: skip


def _complete(call: gateway.Call, started: float) -> dict:
    """Wait for the whole answer, settle, and shape it: one choice per `n`."""
    parts: list[list[str]] = [[] for _ in range(call.spec.n)]
    tokens: list[list[protocol.Token]] = [[] for _ in range(call.spec.n)]
    try:
        for entry in call.events():
            parts[entry.index].append(entry.text)
            if entry.is_token:
                tokens[entry.index].append(entry)
    except BaseException:  # the client gets an error, not the answer: nothing is charged
        call.finish(latency_ms=_ms(started), status=UsageStatus.ERROR, delivered=False)
        raise
    call.latency_ms = _ms(started)
    choices = []
    for index in range(call.spec.n):
        text, logprobs, reason = "".join(parts[index]), _logprobs(call, tokens[index]), _finish_reason(call, index)
        if call.spec.is_chat:
            choices.append({"index": index, "message": {"role": "assistant", "content": text}, "logprobs": logprobs,
                            "finish_reason": reason})  # fmt: skip
        else:
            choices.append({"index": index, "text": text, "logprobs": logprobs, "finish_reason": reason})
    return {**_envelope(call, chunk=False), "choices": choices, "usage": _usage(call)}


def _finish_reason(call: gateway.Call, index: int) -> str:
    reasons = call.finish_reasons
    return "stop" if index < len(reasons) and reasons[index] == "stop" else "length"


def _logprobs(call: gateway.Call, tokens: list[protocol.Token]) -> dict | None:
    if call.spec.logprobs is None:
        return None
    decode = call.tokenizer.decode
    if call.spec.is_chat:
        content = [{"token": decode([t.token]), "logprob": t.logprob, "bytes": None,
                    "top_logprobs": gateway.top_logprobs(t, call.tokenizer)} for t in tokens]  # fmt: skip
        return {"content": content}
    return {
        "tokens": [decode([t.token]) for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [{e["token"]: e["logprob"] for e in gateway.top_logprobs(t, call.tokenizer)} for t in tokens],
        "text_offset": None,
    }


def _sse(call: gateway.Call, started: float) -> Iterator[bytes]:
    """Chunks exactly as OpenAI sends them; settle when the stream ends, however it ends."""
    envelope = _envelope(call, chunk=True)
    if call.spec.include_usage:  # OpenAI: every chunk has `usage` (null) when the last one will carry it
        envelope["usage"] = None
    status = UsageStatus.ERROR

    def event(payload: dict) -> bytes:
        return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()

    try:
        if call.spec.is_chat:
            for index in range(call.spec.n):
                yield event({**envelope, "choices": [{"index": index, "delta": {"role": "assistant", "content": ""},
                                                      "logprobs": None, "finish_reason": None}]})  # fmt: skip
        for entry in call.events():
            scored = call.spec.logprobs is not None and entry.is_token
            if entry.text or scored:
                index = entry.index
                logprobs = _logprobs(call, [entry]) if scored else None
                if call.spec.is_chat:
                    choice = {"index": index, "delta": {"content": entry.text}, "logprobs": logprobs,
                              "finish_reason": None}  # fmt: skip
                else:
                    choice = {"index": index, "text": entry.text, "logprobs": logprobs, "finish_reason": None}
                yield event({**envelope, "choices": [choice]})
        for index in range(call.spec.n):
            final: dict[str, object] = {"index": index, "logprobs": None, "finish_reason": _finish_reason(call, index)}
            if call.spec.is_chat:
                final["delta"] = {}
            else:
                final["text"] = ""
            yield event({**envelope, "choices": [final]})
        if call.spec.include_usage:
            yield event({**envelope, "choices": [], "usage": _usage(call)})  # replaces the null
        yield b"data: [DONE]\n\n"
        status = UsageStatus.OK
    except GeneratorExit:  # the client went away: stop the worker, charge what it made
        call.cancel()
        status = UsageStatus.CANCELLED
        raise
    except DomainError as exc:  # charged before the client hears of it: its next look at usage sees this call
        call.finish(latency_ms=_ms(started), status=status)
        yield event(error_body(exc))
    finally:
        call.finish(latency_ms=_ms(started), status=status)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
