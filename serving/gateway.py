"""The /v1 gateway's logic: charge a checked completion request (call_spec.py), hand it to an infer worker, read
its tokens.

    start_call   find the model, authorize (hold the maximum cost), tokenize with the served commit's tokenizer,
                 check the context length, enqueue a GenerateRequest on the backend's queue -> Call
    Call.events  token deltas and the end, read from the worker's Redis Stream
    Call.finish  settle exactly once with what was really generated (release if nothing was)

The prompt's token count is not known before the served commit is: authorize holds an upper bound (byte-level
tokenizers never make more tokens than UTF-8 bytes), settle charges the real count."""

import dataclasses
import functools
import logging
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, cast

import redis
from celery import current_app
from django.conf import settings

from accounts.models import ApiKey, User
from core.exceptions import InvalidInput, NotFound, ServiceUnavailable
from marketplace.exceptions import ModelNotFound
from marketplace.models import UsageStatus
from marketplace.services import metering, offers
from registry.checkout import checkout
from registry.models import Commit, Model
from serving import protocol
from serving.call_spec import CallSpec
from serving.exceptions import (
    ContextLengthExceeded,
    GatewayTimeout,
    GenerationFailed,
    NoWorker,
    QueueFull,
    TemplateRunaway,
    WorkerLost,
)
from serving.protocol import GENERATE_TASK, cancel_key, stream_key, worker_key
from serving.tokenization import TOKENIZER_FILES, LightTokenizer

logger = logging.getLogger(__name__)
SPECIAL_TOKEN_ALLOWANCE = 8


# KEYS: the model's in-flight set. ARGV: now (s), stale age (s), limit, request id. 1 admitted, 0 full.
# One round trip per call: refuse when no infer worker beat lately (-1), or when the model's queue is full (0);
# else count the call (1). Calls that never finished drop out after INFER_TIMEOUT_SECONDS.
_ADMIT = """
if redis.call('ZCOUNT', KEYS[2], ARGV[5], '+inf') == 0 then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def admit_to_queue(*, commit_sha: str, request_id: str) -> None:
    """Count the call against its model's bound (INFER_QUEUE_LIMIT calls queued or running), or raise QueueFull;
    raise NoWorker first when no worker of the configured inference backend beat within
    WORKER_HEARTBEAT_TTL_SECONDS: queued, the call would wait INFER_TIMEOUT_SECONDS for nothing (it waited 125 s,
    then got 504)."""
    now = time.time()
    try:
        admitted = _redis().eval(_ADMIT, 2, f"inferq:{commit_sha}",
                                 protocol.backend_workers_key(settings.INFERENCE_BACKEND), now,
                                 settings.INFER_TIMEOUT_SECONDS, settings.INFER_QUEUE_LIMIT, request_id,
                                 now - protocol.WORKER_HEARTBEAT_TTL_SECONDS)  # fmt: skip
    except redis.RedisError as exc:
        raise ServiceUnavailable(
            f"the inference queue is unavailable ({type(exc).__name__}); nothing was charged"
        ) from None
    if admitted == -1:
        raise NoWorker("No inference worker is running at the moment. Retry in a few seconds; nothing was charged.")
    if not admitted:
        raise QueueFull(
            f"The model is busy: {settings.INFER_QUEUE_LIMIT} calls are already waiting for it. Retry shortly; "
            "nothing was charged."
        )


def leave_queue(*, commit_sha: str, request_id: str) -> None:
    try:
        _redis().zrem(f"inferq:{commit_sha}", request_id)
    except redis.RedisError:
        logger.warning("could not take %s off the queue bound of %s; it expires on its own", request_id, commit_sha)


def parse_model_id(model_id: str) -> tuple[str, str, str | None]:
    """'owner/name' or 'owner/name@revision' -> (owner, name, revision or None)."""
    base, _, revision = model_id.partition("@")
    owner, _, name = base.partition("/")
    if not owner or not name or "/" in name:
        raise ModelNotFound(f"The model '{model_id}' does not exist", param="model")
    return owner, name, revision or None


class _Recent:
    """A few rows or objects kept in this process by key, the least recently used pushed out first; with `ttl`,
    each is looked up again that many seconds after it was loaded. Thread-safe; `load` runs outside the lock."""

    def __init__(self, size: int, ttl: float | None = None):
        self.size, self.ttl = size, ttl
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, load):
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return hit[1]
        value = load()
        if value is None:  # "not found" is not kept: it may exist a moment later
            return None
        with self._lock:
            self._items[key] = (now + self.ttl if self.ttl else float("inf"), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# Per web process: models by owner/name for a few seconds (authorize re-checks who may call them in the database,
# so a model made private meanwhile is refused all the same; a new model under a deleted one's name is found
# after MODEL_LOOKUP_SECONDS), commits by id (a commit never changes its files) and their tokenizers by sha.
MODEL_LOOKUP_SECONDS = 10
_models = _Recent(size=1024, ttl=MODEL_LOOKUP_SECONDS)
_commits = _Recent(size=256)
tokenizers = _Recent(size=16)


def forget_cached() -> None:
    """Drop what this process keeps (tests start each from an empty database)."""
    for cache in (_models, _commits, tokenizers):
        cache.clear()


def find_callable_model(*, model_id: str, user: User) -> tuple[Model, str | None]:
    owner, name, revision = parse_model_id(model_id)
    model = _models.get((owner, name), lambda: Model.objects.by_id(owner, name).select_related("owner").first())
    if model is None or not model.is_visible_to(user):
        raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have access to it.", param="model")
    return model, revision


def tokenizer_of(commit: Commit) -> LightTokenizer:
    """The tokenizer of a served commit (the web process needs it to count and check prompts)."""

    def load() -> LightTokenizer:
        with checkout(commit, only=TOKENIZER_FILES) as directory:  # never the weights: they may be gigabytes away
            return LightTokenizer(directory)

    return tokenizers.get(commit.sha, load)


def render_chat(tokenizer: LightTokenizer, messages: tuple[dict, ...]) -> str:
    """The tokenizer's chat template when it has one; otherwise 'role: content' lines and 'assistant:'."""
    if tokenizer.chat_template:
        try:
            return tokenizer.render_chat(list(messages))
        except TemplateRunaway as exc:
            raise InvalidInput(
                f"the model's chat template failed: {exc}; its provider must fix it", param="messages"
            ) from None
        except Exception as exc:  # the template is the provider's code: jinja2 errors, raise_exception(...)
            raise InvalidInput(f"the model's chat template rejected these messages: {exc}", param="messages") from None
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"])


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True, socket_timeout=5)


@dataclasses.dataclass
class Call:
    """A call under way: its charge, the commit served, and how to read and end it."""

    spec: CallSpec
    authorization: metering.Authorization
    commit: Commit
    prompt_tokens: int
    tokenizer: LightTokenizer
    created: int
    completion_tokens: int = 0
    finish_reasons: list[str] = dataclasses.field(default_factory=list)
    settled: bool = False
    latency_ms: int = 0
    id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:24])

    @property
    def request_id(self) -> str:
        return self.authorization.request_id

    def headers(self) -> dict[str, str]:
        return self.authorization.headers()

    def events(self, *, timeout: float | None = None):
        """Yield each protocol.Token as the worker writes it; at the end `finish_reasons` holds each choice's reason.
        Redis going away mid-call raises ServiceUnavailable (503, Retry-After; in a stream, an error event)."""
        try:
            yield from self._events(timeout)
        except redis.RedisError as exc:
            self.cancel()  # best effort: if Redis is back soon, the worker stops generating for nobody
            raise ServiceUnavailable(
                f"lost the connection to the token stream ({type(exc).__name__}) after {self.completion_tokens} "
                "tokens; only tokens already delivered are charged. Retry the request."
            ) from None

    def _events(self, timeout: float | None):
        key, last, worker = stream_key(self.request_id), "0", None
        deadline = time.monotonic() + (timeout or settings.INFER_TIMEOUT_SECONDS)
        client = _redis()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.cancel()
                raise GatewayTimeout(f"the model did not finish within {settings.INFER_TIMEOUT_SECONDS} s")
            batches = cast(list[Any], client.xread({key: last}, block=int(min(remaining, 1.0) * 1000), count=256) or [])
            if not batches and worker is not None and not client.exists(worker_key(worker)):
                raise WorkerLost(
                    f"the inference worker running this request stopped (restarted or crashed) after "
                    f"{self.completion_tokens} tokens; only tokens already delivered are charged. Retry the request."
                )
            for _, entries in batches:
                for entry_id, fields in entries:
                    last = entry_id
                    entry = protocol.decode(fields)
                    if isinstance(entry, protocol.Start):
                        worker = entry.worker
                    elif isinstance(entry, protocol.Token):
                        if entry.is_token:
                            self.completion_tokens += 1
                        yield entry
                    elif isinstance(entry, protocol.Done):
                        self.finish_reasons = list(entry.finish_reasons)
                        if "error" in self.finish_reasons:
                            raise GenerationFailed(
                                f"the model failed while generating this answer ({entry.error or 'error'}); "
                                f"only tokens already delivered are charged"
                            )
                        return
                    else:
                        raise ServiceUnavailable(f"the model failed: {entry.message}")

    def cancel(self) -> None:
        try:
            _redis().set(cancel_key(self.request_id), 1, ex=300)
        except redis.RedisError:
            logger.warning("could not ask the worker to stop %s", self.request_id)

    def finish(self, *, latency_ms: int, status: str = UsageStatus.OK, delivered: bool = True) -> None:
        """Charge what was delivered, once. Nothing delivered (an error before the first token, or a plain answer
        that never reached the client): release. Never raises for a reservation that is already gone."""
        if self.settled:
            return
        self.settled = True
        leave_queue(commit_sha=self.commit.sha, request_id=self.request_id)
        try:
            if status != UsageStatus.OK and (self.completion_tokens == 0 or not delivered):
                metering.release(request_id=self.request_id, status=status)
                return
            metering.settle(
                request_id=self.request_id,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                latency_ms=latency_ms,
                status=status,
            )
        except NotFound:  # its hold was voided (expired) or lost in a database crash: nothing to charge
            logger.error("no reservation for request %s at settle; it was not charged", self.request_id)


def start_call(*, spec: CallSpec, user: User, api_key: ApiKey | None) -> Call:
    """Authorize, tokenize, check the context, enqueue. Every refusal leaves nothing held."""
    model, revision = find_callable_model(model_id=spec.model, user=user)
    text_bound = len((spec.prompt or "".join(m["content"] for m in spec.messages)).encode()) + 64 * len(spec.messages)
    max_tokens = spec.max_tokens or settings.DEFAULT_CHAT_MAX_TOKENS
    authorization = metering.authorize(
        user=user, api_key=api_key, model=model, revision=revision,
        prompt_tokens=text_bound + SPECIAL_TOKEN_ALLOWANCE, max_tokens=max_tokens * spec.n,
    )  # fmt: skip
    try:
        commit = _commits.get((authorization.commit_id, authorization.commit_sha),
                              lambda: Commit.objects.get(pk=authorization.commit_id))  # fmt: skip
        tokenizer = tokenizer_of(commit)
        text = render_chat(tokenizer, spec.messages) if spec.is_chat else (spec.prompt or "")
        prompt_ids = tokenizer.encode(text)
        context = _context_length(commit)
        if not spec.max_tokens:  # chat without a limit: whatever fits, up to the default
            max_tokens = max(1, min(max_tokens, context - len(prompt_ids)))
        if len(prompt_ids) + max_tokens > context:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {context} tokens. However, you requested "
                f"{len(prompt_ids) + max_tokens} tokens ({len(prompt_ids)} in the prompt, {max_tokens} for the "
                "completion). Please reduce the prompt or the completion length.",
                param="messages" if spec.is_chat else "prompt",
            )
        call = Call(spec=spec, authorization=authorization, commit=commit, prompt_tokens=len(prompt_ids),
                    tokenizer=tokenizer, created=int(time.time()))  # fmt: skip
        # after the caller's own mistakes (400, 402, 429), which a worker would not fix
        admit_to_queue(commit_sha=commit.sha, request_id=call.request_id)
        try:
            _enqueue(call, prompt_ids, max_tokens)
        except BaseException:
            leave_queue(commit_sha=commit.sha, request_id=call.request_id)
            raise
    except BaseException:
        metering.release(request_id=authorization.request_id, status=UsageStatus.ERROR)
        raise
    return call


def _context_length(commit: Commit) -> int:
    report = commit.validation_report or {}
    return int(report.get("context_length") or 1024)


def _enqueue(call: Call, prompt_ids: list[int], max_tokens: int) -> None:
    """Send the call to the configured inference backend's queue, as a GenerateRequest."""
    spec = call.spec
    request = protocol.GenerateRequest(
        request_id=call.request_id, commit_id=call.commit.pk, commit_sha=call.commit.sha,
        prompt_ids=tuple(prompt_ids), params={**spec.sampling, "max_tokens": max_tokens, "logprobs": spec.logprobs},
        stop=tuple(spec.stop), n=spec.n, num_beams=spec.num_beams, backend=settings.INFERENCE_BACKEND,
        deadline=time.time() + settings.INFER_TIMEOUT_SECONDS,  # the caller waits no longer
    )  # fmt: skip
    try:
        current_app.send_task(GENERATE_TASK, args=[request.as_message()], retry=False,  # by name: no torch in the web
                              queue=settings.INFERENCE_BACKENDS[request.backend],
                              argsrepr=f"[{call.request_id}]", kwargsrepr="{}")  # no prompt in Celery's logs  # fmt: skip
    except Exception as exc:  # the broker is unreachable: kombu raises its own OperationalError
        raise ServiceUnavailable(
            f"the inference queue is unavailable ({type(exc).__name__}); nothing was charged"
        ) from None


def top_logprobs(entry: protocol.Token, tokenizer) -> list[dict]:
    return [{"token": tokenizer.decode([token]), "logprob": logprob} for token, logprob in entry.top_logprobs]


def visible_models(user: User) -> list[Model]:
    """The models the caller may call (offers.callable_models), as /v1/models lists them."""
    return sorted(offers.callable_models(user), key=lambda model: model.repo_id)


def describe_model(model_id: str, user: User) -> Model:
    """One of visible_models, or ModelNotFound."""
    model, _ = find_callable_model(model_id=model_id, user=user)
    listed = offers.callable_models(user).filter(pk=model.pk).first()  # with its listing, prices and stats
    if listed is None:
        raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have access to it.", param="model")
    return listed
