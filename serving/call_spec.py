"""The body of an OpenAI completion or chat completion request, checked: a CallSpec, or InvalidInput naming the
`param` that is wrong (the /v1 gateway's first step)."""

import dataclasses

from django.conf import settings

from core import json_input
from core.exceptions import InvalidInput

MAX_STOP_CHARS = 256  # a stop sequence is a few tokens; each is searched in every step's text
MAX_USER_CHARS = 256
MAX_STOPS = 4
SEED_LIMIT = 2**63  # as the engine's SamplingParams (engine/batching.py), which the web does not import


@dataclasses.dataclass(frozen=True)
class CallSpec:
    """A checked completion request."""

    model: str
    prompt: str | None = None
    messages: tuple[dict, ...] = ()
    max_tokens: int = 16  # 0: a chat that set none (whatever fits, up to DEFAULT_CHAT_MAX_TOKENS)
    # temperature, top_p, top_k, seed, presence_penalty, frequency_penalty: the worker's SamplingParams fields
    sampling: dict = dataclasses.field(default_factory=dict)
    stop: tuple[str, ...] = ()
    logprobs: int | None = None
    stream: bool = False
    include_usage: bool = False
    n: int = 1
    num_beams: int = 1

    @property
    def is_chat(self) -> bool:
        return self.prompt is None


def _number(body: dict, name: str, default, *, low, high, kind=float):
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise InvalidInput(f"'{name}' must be {'an integer' if kind is int else 'a number'}", param=name)
    if not low <= value <= high:
        raise InvalidInput(f"'{name}' must be between {low} and {high}, got {value}", param=name)
    return kind(value)


# Parameters of the OpenAI API that change the answer and that these text models do not implement: refused with a
# 400 naming them rather than ignored (a caller who sets them expects their effect). Each: is it in effect?
UNSUPPORTED = {
    "logit_bias": lambda value: bool(value),
    "echo": lambda value: bool(value),
    "suffix": lambda value: bool(value),
    "best_of": lambda value: value not in (None, 1),
    "tools": lambda value: bool(value),
    "functions": lambda value: bool(value),
    "response_format": lambda value: value not in (None, {"type": "text"}),
    "tool_choice": lambda value: value not in (None, "none", "auto"),
    "function_call": lambda value: value not in (None, "none", "auto"),
    "modalities": lambda value: value not in (None, ["text"]),
}


# Every request field these endpoints read, refuse (UNSUPPORTED) or accept and ignore: OpenAI answers any other
# with 400 "Unrecognized request argument supplied", and so do we, rather than silently ignoring a misspelling.
# top_k and num_beams are this store's extensions.
_SAMPLING_FIELDS = {"model", "n", "stop", "stream", "stream_options", "seed", "temperature", "top_p", "top_k",
                    "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "num_beams", "user", "metadata",
                    "store", "service_tier"}  # fmt: skip
COMPLETION_FIELDS = _SAMPLING_FIELDS | {"prompt", "max_tokens", "echo", "suffix", "best_of"}
CHAT_FIELDS = _SAMPLING_FIELDS | {"messages", "max_tokens", "max_completion_tokens", "top_logprobs", "tools",
                                  "functions", "response_format", "tool_choice", "function_call",
                                  "parallel_tool_calls", "modalities", "prompt_cache_key", "safety_identifier"}  # fmt: skip


def _check_fields(body: dict, known: set[str]) -> None:
    unknown = sorted(name for name in body if name not in known)
    if unknown:
        raise InvalidInput(f"Unrecognized request argument supplied: {', '.join(unknown)}", param=unknown[0])


def _common(body: dict, known: set[str]) -> dict:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    _check_fields(body, known)
    for name, in_effect in UNSUPPORTED.items():
        if in_effect(body.get(name)):
            raise InvalidInput(f"'{name}' is not supported by this server", param=name)
    model = json_input.model_id(body.get("model"))
    stop = _stop(body.get("stop"))
    n = _number(body, "n", 1, low=1, high=settings.MAX_CHOICES, kind=int)
    num_beams = _number(body, "num_beams", 1, low=1, high=settings.MAX_BEAMS, kind=int)
    if num_beams > 1:
        _check_beam_search(body, n=n, num_beams=num_beams)
    stream = _boolean(body, "stream")
    stream_options = _stream_options(body.get("stream_options"), stream=stream)
    _check_typed_extras(body)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT):
        raise InvalidInput(f"'seed' must be an integer from 0 to {SEED_LIMIT - 1}", param="seed")
    return {
        "model": model,
        "sampling": {
            "temperature": _number(body, "temperature", 1.0, low=0, high=2),
            "top_p": _number(body, "top_p", 1.0, low=0.0, high=1.0) or 1.0,
            "top_k": _number(body, "top_k", 0, low=0, high=10_000, kind=int),
            "seed": seed,
            "presence_penalty": _number(body, "presence_penalty", 0.0, low=-2, high=2),
            "frequency_penalty": _number(body, "frequency_penalty", 0.0, low=-2, high=2),
        },
        "stop": stop,
        "stream": stream,
        "include_usage": stream_options.get("include_usage") is True,
        "n": n,
        "num_beams": num_beams,
    }


def _boolean(body: dict, name: str, default: bool = False) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(f"'{name}' must be a boolean (true or false), got {type(value).__name__}", param=name)
    return value


def _stop(stop) -> tuple[str, ...]:
    """`stop`: null, a string or a list of up to 4 strings, each non-empty and at most MAX_STOP_CHARS."""
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOPS
        or not all(isinstance(item, str) and 0 < len(item) <= MAX_STOP_CHARS for item in stops)
    ):
        raise InvalidInput(f"'stop' must be a string or a list of up to {MAX_STOPS} strings, each of 1 to "
                           f"{MAX_STOP_CHARS} characters", param="stop")  # fmt: skip
    return tuple(stops)


def _stream_options(value, *, stream: bool) -> dict:
    """`stream_options` {include_usage: bool}, only with `stream: true` (OpenAI refuses it otherwise)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("'stream_options' must be an object", param="stream_options")
    if not stream:
        raise InvalidInput("'stream_options' is only allowed when 'stream' is true", param="stream_options")
    unknown = sorted(set(value) - {"include_usage", "include_obfuscation"})
    if unknown:
        raise InvalidInput(f"Unrecognized stream option: {unknown[0]}", param=f"stream_options.{unknown[0]}")
    for name in ("include_usage", "include_obfuscation"):
        if value.get(name) is not None and not isinstance(value[name], bool):
            raise InvalidInput(f"'stream_options.{name}' must be a boolean", param=f"stream_options.{name}")
    return value


SERVICE_TIERS = ("auto", "default", "flex", "priority", "scale")


def _check_typed_extras(body: dict) -> None:
    """Fields accepted and not acted on still have OpenAI's types and limits: a caller learns of a mistake."""
    for name in ("user", "prompt_cache_key", "safety_identifier"):
        value = body.get(name)
        limit = 64 if name == "safety_identifier" else MAX_USER_CHARS
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise InvalidInput(f"'{name}' must be a string of at most {limit} characters", param=name)
    for name in ("store", "parallel_tool_calls"):
        _boolean(body, name)
    tier = body.get("service_tier")
    if tier is not None and tier not in SERVICE_TIERS:
        raise InvalidInput(f"'service_tier' must be one of {', '.join(SERVICE_TIERS)}", param="service_tier")
    json_input.metadata(body.get("metadata"))


def _check_beam_search(body: dict, *, n: int, num_beams: int) -> None:
    """Beam search is deterministic (temperature, top_p, top_k and seed do not apply) and returns the `n` best
    beams; it gives no logprobs and takes no penalties."""
    if n > num_beams:
        raise InvalidInput(f"'n' ({n}) cannot be larger than 'num_beams' ({num_beams})", param="n")
    if body.get("logprobs") not in (None, False):
        raise InvalidInput("'logprobs' is not available with beam search ('num_beams' > 1)", param="logprobs")
    for name in ("presence_penalty", "frequency_penalty"):
        if body.get(name):
            raise InvalidInput(f"'{name}' is not available with beam search ('num_beams' > 1)", param=name)


def parse_completion(body: dict) -> CallSpec:
    fields = _common(body, COMPLETION_FIELDS)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise InvalidInput("'prompt' must be a non-empty string", param="prompt")
    if len(prompt) > settings.MAX_PROMPT_CHARS:
        raise InvalidInput(f"'prompt' is longer than {settings.MAX_PROMPT_CHARS} characters", param="prompt")
    logprobs = body.get("logprobs")
    if logprobs is not None:
        logprobs = _number(body, "logprobs", None, low=0, high=5, kind=int)
    max_tokens = _number(body, "max_tokens", 16, low=1, high=settings.MAX_COMPLETION_TOKENS, kind=int)
    return CallSpec(prompt=prompt, max_tokens=max_tokens, logprobs=logprobs, **fields)


def parse_chat(body: dict) -> CallSpec:
    fields = _common(body, CHAT_FIELDS)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("'messages' must be a non-empty list", param="messages")
    texts = []
    for message in messages:
        text = _text_content(message.get("content")) if isinstance(message, dict) else None
        if text is None or message.get("role") not in ("system", "developer", "user", "assistant"):
            raise InvalidInput(
                "each message needs a role (system, developer, user, assistant) and text content: a string, or a "
                "list of parts of type 'text' (these models take no images or audio)",
                param="messages",
            )
        texts.append({"role": message["role"], "content": text})
    if sum(len(m["content"]) for m in texts) > settings.MAX_PROMPT_CHARS:
        raise InvalidInput(f"'messages' hold more than {settings.MAX_PROMPT_CHARS} characters", param="messages")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    max_tokens = _number({name: limit}, name, None, low=1, high=settings.MAX_COMPLETION_TOKENS, kind=int)
    logprobs = None
    if body.get("logprobs"):
        logprobs = _number(body, "top_logprobs", 0, low=0, high=20, kind=int)
    spec = CallSpec(
        messages=tuple(texts),
        max_tokens=max_tokens or 0,
        logprobs=logprobs,
        **fields,
    )
    return spec


def _text_content(content) -> str | None:
    """A message's text: a string, or the text parts of a list of content parts joined by newlines (as vLLM joins
    them); None if it is neither or holds other parts."""
    if isinstance(content, str):
        return content
    if (
        isinstance(content, list)
        and content
        and all(
            isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
            for part in content
        )
    ):
        return "\n".join(part["text"] for part in content)
    return None
