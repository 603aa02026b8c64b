"""The body of an OpenAI completion or chat completion request, checked: a CallSpec, or InvalidInput naming the
`param` that is wrong (the /v1 gateway's first step)."""

import dataclasses

from django.conf import settings

from accounts.exceptions import InvalidInput

MAX_MODEL_ID_CHARS = 300  # owner (150) + "/" + name (96) + "@" + a branch, tag or sha
SEED_LIMIT = 2**63  # as the engine's SamplingParams (workers/engine/batching.py), which the web does not import


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
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInput("'model' is required: an id such as owner/name or owner/name@revision", param="model")
    if len(model) > MAX_MODEL_ID_CHARS or any(ord(character) < 32 or character == "\x7f" for character in model):
        raise InvalidInput(f"'model' must be an id such as owner/name, without control characters and at most "
                           f"{MAX_MODEL_ID_CHARS} characters", param="model")  # fmt: skip
    stop = body.get("stop")
    if stop is None:
        stop = ()
    elif isinstance(stop, str):
        stop = (stop,)
    elif isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) and s for s in stop):
        stop = tuple(stop)
    else:
        raise InvalidInput("'stop' must be a string or a list of up to 4 non-empty strings", param="stop")
    n = _number(body, "n", 1, low=1, high=settings.MAX_CHOICES, kind=int)
    num_beams = _number(body, "num_beams", 1, low=1, high=settings.MAX_BEAMS, kind=int)
    if num_beams > 1:
        _check_beam_search(body, n=n, num_beams=num_beams)
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise InvalidInput("'stream_options' must be an object", param="stream_options")
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
        "stream": bool(body.get("stream", False)),
        "include_usage": bool(stream_options.get("include_usage", False)),
        "n": n,
        "num_beams": num_beams,
    }


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
