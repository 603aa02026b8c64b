"""Names of the Redis keys a call's tokens travel through, shared by the gateway and the infer worker (no torch
here, so web processes never import the ML runtime), and the entries of a call's stream."""

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any, Protocol


def stream_key(request_id: str) -> str:
    """The Redis Stream the worker writes a call's tokens to."""
    return f"infer:{request_id}"


def cancel_key(request_id: str) -> str:
    """Set by the gateway when the client went away; the worker then stops the generation."""
    return f"infer:{request_id}:cancel"


GENERATE_TASK = "workers.tasks.generate"


@dataclasses.dataclass(frozen=True)
class GenerateRequest:
    """What the gateway asks an inference backend for: one call's prompt, already tokenized by the served commit's
    tokenizer and checked against its context, with its sampling. It travels as a Celery message (`as_message`,
    JSON) on the queue of the backend named `backend`; the worker reads it back with `from_message`, which ignores
    fields it does not know (a newer gateway may send more while workers are being rolled)."""

    request_id: str
    commit_id: int
    commit_sha: str
    prompt_ids: tuple[int, ...]
    params: dict[str, Any]  # engine.batching.SamplingParams's fields: max_tokens, temperature, top_p, seed, logprobs...
    stop: tuple[str, ...] = ()
    n: int = 1  # choices; choice i samples with seed + i
    num_beams: int = 1
    deadline: float = float("inf")  # time.time() after which nobody waits for the answer (the gateway answered 504)
    backend: str = "batching"

    @property
    def max_tokens(self) -> int:
        return int(self.params["max_tokens"])

    def as_message(self) -> dict[str, Any]:
        """A shallow dict of the fields, the tuples as the lists JSON makes of them (dataclasses.asdict would copy
        every prompt token one by one, on the web's hot path)."""
        message = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        message["prompt_ids"], message["stop"] = list(self.prompt_ids), list(self.stop)
        if math.isinf(self.deadline):
            del message["deadline"]  # JSON has no infinity
        return message

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> "GenerateRequest":
        known = {field.name for field in dataclasses.fields(cls)}
        values = {name: value for name, value in message.items() if name in known and value is not None}
        values["prompt_ids"], values["stop"] = tuple(values.get("prompt_ids", ())), tuple(values.get("stop", ()))
        return cls(**values)


def worker_key(worker_id: str) -> str:
    """Present while the infer worker `worker_id` is alive: it refreshes the key every second, with a TTL of
    WORKER_HEARTBEAT_TTL_SECONDS. A call whose worker's key is gone will get no more tokens."""
    return f"infer:worker:{worker_id}"


WORKER_HEARTBEAT_TTL_SECONDS = 3
# A sorted set of the infer workers that are running, scored by the time of each one's last beat: the gateway
# refuses a call at once (503) when no member beat within WORKER_HEARTBEAT_TTL_SECONDS, instead of queueing it
# for a worker that is not there.
WORKERS_KEY = "infer:workers"


def backend_workers_key(backend: str) -> str:
    """The same, for the workers of one inference backend: the gateway admits a call only when a worker of the
    backend it is routed to beat lately (workers of another backend would never take it)."""
    return f"{WORKERS_KEY}:{backend}"


# The entries of a call's stream `infer:<request id>`, in order: one Start (which worker runs it), Tokens, and one
# Done or Failure. The worker writes them only through `fields()`, the gateway reads them only through `decode()`:
# Redis holds flat string fields, these are the one place that knows their names and types.


@dataclasses.dataclass(frozen=True)
class Start:
    """First: which worker runs the call (the gateway watches that worker's heartbeat)."""

    worker: str

    def fields(self) -> dict:
        return {"type": "start", "worker": self.worker}


@dataclasses.dataclass(frozen=True)
class Token:
    """Text for choice `index`. `token` is the generated id, or -1 for text held back until the end (the start of
    what might have been a stop string), which counts no token. `top` is the best alternatives as JSON, decoded
    only by `top_logprobs` (most calls do not ask for them)."""

    index: int
    text: str
    token: int = -1
    logprob: float = 0.0
    top: str = "[]"

    @property
    def is_token(self) -> bool:
        return self.token >= 0

    @property
    def top_logprobs(self) -> list[tuple[int, float]]:
        return [(int(token), float(logprob)) for token, logprob in json.loads(self.top)]

    @staticmethod
    def encode_top(alternatives) -> str:
        return json.dumps([[token, round(logprob, 6)] for token, logprob in alternatives])

    def fields(self) -> dict:
        return {"type": "token", "index": self.index, "text": self.text, "token": self.token,
                "logprob": self.logprob, "top": self.top}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Done:
    """Last, when the call ended: each choice's finish reason ("stop", "length", "cancelled" or "error"), the
    token counts, and the first failed generation's reason (the gateway answers it as an error, never a finish)."""

    finish_reasons: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    error: str = ""

    def fields(self) -> dict:
        return {"type": "done", "finish_reason": self.finish_reasons[0], "finish_reasons": json.dumps(
            list(self.finish_reasons)), "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "error": self.error}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Failure:
    """Last, when the call could not start (its model would not load, its prompt did not fit)."""

    message: str

    def fields(self) -> dict:
        return {"type": "error", "message": self.message}


Entry = Start | Token | Done | Failure


def decode(fields: dict) -> Entry:
    """The entry that `fields()` wrote (Redis gives every field back as a string)."""
    kind = fields.get("type")
    if kind == "token":
        return Token(int(fields.get("index", 0)), fields["text"], int(fields["token"]), float(fields["logprob"]),
                     fields.get("top") or "[]")  # fmt: skip
    if kind == "start":
        return Start(fields["worker"])
    if kind == "done":
        reasons = tuple(json.loads(fields.get("finish_reasons") or "[]")) or (fields["finish_reason"],)
        return Done(reasons, int(fields["prompt_tokens"]), int(fields["completion_tokens"]), fields.get("error", ""))
    return Failure(fields.get("message", "unknown error"))


class InferenceCall(Protocol):
    """One call on an inference backend, from `InferenceBackend.submit` to its last entry."""

    request_id: str

    def run(self) -> None:
        """Start the work: a batched call joins the engine's batch and returns at once; a call the backend computes
        alone (beam search) computes here, in the worker's thread. Either way the backend wakes the writer as entries come."""

    def drain(self) -> list[Token | Done]:
        """The entries made since the last drain, in order; the call's last drain ends with its Done. Called from
        the worker's one writer thread, which sends every call's entries of a step in one Redis round trip."""
        ...

    def cancel(self) -> None:
        """Stop as soon as the backend can (the caller went away); the call still ends with a Done."""


class InferenceBackend(Protocol):
    """An inference engine as a worker runs it (docs/architecture.md, "A new inference backend"): the store's own
        continuous batching (workers/batching_backend.py) is one; vLLM on GPU nodes would be another. The worker
        (workers/inference.py) owns what every backend shares: the request's deadline and backend checks, the stream's
        Start, writing the entries to Redis, the caller's cancel, and a Failure when the call cannot start. A backend is
    made with the writer's `wake`, which it calls when calls have entries to drain (after each engine step)."""

    name: str

    def is_loaded(self, request: GenerateRequest) -> bool:
        """Whether the request's model is ready (loading may take seconds: the worker says who works on it first)."""
        ...

    def load(self, request: GenerateRequest) -> None:
        """Make the request's model ready; raises when it cannot be served (the call ends with a Failure)."""

    def submit(self, request: GenerateRequest) -> InferenceCall:
        """Check and prepare the call, raising if it cannot run (its prompt does not fit); `run` starts it."""
        ...


BackendFactory = Callable[[Callable[[], None]], InferenceBackend]  # made with the writer's `wake`
