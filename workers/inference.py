"""The infer worker's side of a call: run a generation on the engine of the (cached) model and stream it into
Redis, so the gateway relays tokens as they come and a late reader loses nothing.

Stream `infer:<request id>` (deleted STREAM_TTL_SECONDS after the end): the entries of workers/protocol.py, a
Start, Tokens, then Done or Failure.
The gateway asks for a stop (the client went away) by setting `infer:<request id>:cancel`. Each worker process
keeps `infer:worker:<worker id>` alive while it runs (a heartbeat thread); a gateway waiting on a call whose worker
key expired ends the call with a clear error instead of waiting for its timeout."""

import collections
import dataclasses
import functools
import logging
import threading
import time

import redis
from django.conf import settings

from engine.batching import SEED_LIMIT, Generation, SamplingParams
from engine.beams import beam_search
from engine.serving import LoadedModel, ModelCache, TextStream, load_model, pick_device, pick_dtype
from registry.checkout import checkout
from registry.models import Commit, ValidationStatus
from serving.protocol import (
    Done,
    Failure,
    GenerateRequest,
    Start,
    Token,
    cancel_key,
    stream_key,
)
from workers.heartbeat import BACKEND, heartbeat  # BACKEND: this module is the "batching" inference backend

logger = logging.getLogger(__name__)
STREAM_TTL_SECONDS = 300
CANCEL_CHECK_SECONDS = 0.1
FINISHED = object()  # put in a generation's event queue after its last token


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def model_cache() -> ModelCache:
    return ModelCache(budget_bytes=settings.INFER_CACHE_MB * 1024 * 1024)


def loaded_model(commit_id: int, commit_sha: str) -> LoadedModel:
    """The commit's model from this worker's cache (no database query when it is loaded), loading it from the
    blob store on first use. Only valid commits are served: the gateway authorized this one."""

    def load() -> LoadedModel:
        commit = Commit.objects.get(pk=commit_id, sha=commit_sha, validation_status=ValidationStatus.VALID)
        device = pick_device()
        with checkout(commit) as directory:
            return load_model(
                directory,
                key=commit.sha,
                device=device,
                dtype=pick_dtype(settings.INFER_DTYPE, device),
                max_batch=settings.INFER_MAX_BATCH,
                on_step=relay().wake,
            )

    return model_cache().get(commit_sha, load)


def run_generation(request: GenerateRequest) -> dict:
    """Generate for one call and stream it (choice i of `n` samples with seed + i, modulo 2^63). The process's
    relay writes the tokens; this thread waits for the end. Returns the summary that the last stream entry holds."""
    if request.backend != BACKEND:  # a queue routed to the wrong workers: say so rather than serve it differently
        _fail(redis_client(), stream_key(request.request_id), LookupError(
            f"this worker runs the {BACKEND!r} inference backend, not {request.backend!r}: check "
            "INFERENCE_BACKEND_QUEUES"))  # fmt: skip
        return Failure(f"wrong backend {request.backend!r}").fields()
    gone = _caller_gone(request)
    if gone:  # end its stream as cancelled, as if it had been stopped at once, without loading or computing
        logger.info("dropped generation %s without computing: %s", request.request_id, gone)
        pipe = redis_client().pipeline()
        summary = _end(pipe, stream_key(request.request_id), [], ["cancelled"] * request.n,
                       len(request.prompt_ids), 0, error=f"dropped: {gone}")  # fmt: skip
        pipe.execute()
        return summary
    if request.num_beams > 1:
        return run_beam_search(request)
    request_id = request.request_id
    key, client = stream_key(request_id), redis_client()
    call = None
    try:
        started = False
        if request.commit_sha not in model_cache():  # loading may take long: say who works on it first
            client.xadd(key, _start_entry())
            started = True
        loaded = loaded_model(request.commit_id, request.commit_sha)
        call = _Call(request_id, key, len(request.prompt_ids), started)
        eos = loaded.tokenizer.eos_token_id
        base = {"stop_token_ids": (eos,) if eos is not None else (), **request.params}
        for index in range(request.n):
            seed = base.get("seed")
            params = SamplingParams(**{**base, "seed": (seed + index) % SEED_LIMIT if seed is not None else None})
            call.texts.append(TextStream(loaded.tokenizer, request.stop))
            call.generations.append(
                Generation(
                    request.prompt_ids,
                    params,
                    on_token=functools.partial(relay().on_token, call, index),
                    on_finish=functools.partial(relay().on_finish, call, index),
                )
            )
        for generation in call.generations:
            loaded.engine.check(generation)
        for generation in call.generations:
            loaded.engine.submit(generation)
        relay().add(call)
    except Exception as exc:
        logger.exception("generation %s could not start", request_id)
        if call is not None:
            call.cancel()
        _fail(client, key, exc)
        raise
    if not call.ended.wait(timeout=settings.INFER_TIMEOUT_SECONDS + 60):  # the gateway gave up long before
        call.cancel()
        raise TimeoutError(f"generation {request_id} did not end")
    if call.failure is not None:
        raise call.failure
    assert call.summary is not None  # set with `ended`
    return call.summary


def _caller_gone(request: GenerateRequest) -> str | None:
    """Why nobody waits for this call any more (a redelivery, or a queue that was long), or None. Its charge
    was released by the gateway when it gave up, so computing it would only take the batch's time. The deadline
    costs nothing to check; the caller's cancel key is asked for only when the model would have to be loaded."""
    if time.time() > request.deadline:
        return "its deadline passed (the gateway answered 504)"
    if request.commit_sha in model_cache():
        return None  # no round trip on the common path: the relay's cancel poll stops it within 0.1 s anyway
    try:  # before a load (seconds of work), one look at whether the caller already left
        if redis_client().exists(cancel_key(request.request_id)):
            return "its caller went away"
    except redis.RedisError:
        return None  # cannot tell: run it, the relay notices a cancel later
    return None


@dataclasses.dataclass(eq=False)
class _Call:
    """What the relay keeps of a call under way: its stream, and per choice its generation and detokenizer."""

    request_id: str
    key: str
    prompt_tokens: int
    started: bool  # its "start" entry is in the stream
    texts: list[TextStream] = dataclasses.field(default_factory=list)
    generations: list[Generation] = dataclasses.field(default_factory=list)
    finished: int = 0  # choices that ended
    summary: dict | None = None
    failure: Exception | None = None
    ended: threading.Event = dataclasses.field(default_factory=threading.Event)

    def cancel(self) -> None:
        for generation in self.generations:
            generation.cancel()


class Relay:
    """Writes the calls of this worker process into their Redis Streams, from one thread: woken after each engine
    step, it sends every token made since, of every call, and the end of each call that finished, in one
    MULTI/EXEC round trip (a reader wakes once, with all of it). Every CANCEL_CHECK_SECONDS it asks Redis, in one
    round trip, which callers went away, and stops their generations. One thread and one round trip per step
    however many calls share the batch: per-call threads each waking for each token cost the engine its CPU."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self._added: collections.deque[_Call] = collections.deque()
        self._events: collections.deque = collections.deque()  # (call, choice, TokenEvent or FINISHED)
        self._calls: dict[str, _Call] = {}  # under way, by request id; the relay thread's own
        self._wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="infer-relay", daemon=True)
        self.thread.start()

    def add(self, call: _Call) -> None:
        """Take a call whose generations were submitted. Its "start" entry goes with its first tokens, or at the
        relay's next look (within CANCEL_CHECK_SECONDS) if they are slow to come: not waking the relay now
        leaves the engine alone for the step that makes them."""
        self._added.append(call)

    def on_token(self, call: _Call, index: int, event) -> None:
        self._events.append((call, index, event))

    def on_finish(self, call: _Call, index: int) -> None:
        self._events.append((call, index, FINISHED))

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        next_check = time.monotonic() + CANCEL_CHECK_SECONDS
        while True:
            self._wake.wait(timeout=CANCEL_CHECK_SECONDS)
            self._wake.clear()
            try:
                self._send()
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + CANCEL_CHECK_SECONDS
                    self._stop_the_abandoned()
            except Exception:  # the relay must outlive any one failure
                logger.exception("the infer relay failed")

    def _send(self) -> None:
        pipe = self.client.pipeline(transaction=True)
        touched, ended = set(), []
        while self._added:
            call = self._added.popleft()
            self._calls[call.request_id] = call
            touched.add(call)
            self._start(pipe, call)
        while self._events:
            call, index, event = self._events.popleft()
            if call.ended.is_set():
                continue  # it failed: what its generation made since it was stopped goes nowhere
            touched.add(call)
            self._start(pipe, call)  # a token may come before its call was added
            if event is FINISHED:
                call.finished += 1
                if call.finished == len(call.generations):
                    ended.append(call)
                continue
            text = call.texts[index]
            if text.stopped:
                continue  # made after a stop string: not part of the answer
            delta = text.push(event.token_id)
            top = Token.encode_top(event.top_logprobs)
            pipe.xadd(call.key, Token(index, delta, event.token_id, event.logprob or 0.0, top).fields())
            if text.stopped:
                call.generations[index].cancel()
        for call in ended:
            call.summary = _end_entries(pipe, call)
        if not pipe.command_stack:
            return
        try:
            pipe.execute()
        except redis.RedisError as exc:  # these calls' streams miss entries now: end them as failed
            logger.error("could not write %d calls' tokens to Redis: %s", len(touched), exc)
            for call in touched:
                call.cancel()
                call.failure = exc
                self._calls.pop(call.request_id, None)
                call.ended.set()
            return
        for call in ended:
            self._calls.pop(call.request_id, None)
            call.ended.set()

    @staticmethod
    def _start(pipe, call: _Call) -> None:
        if not call.started:
            pipe.xadd(call.key, _start_entry())
            call.started = True

    def _stop_the_abandoned(self) -> None:
        calls = list(self._calls.values())
        if not calls:
            return
        for call, asked in zip(calls, self.client.mget([cancel_key(c.request_id) for c in calls]), strict=True):
            if asked:
                call.cancel()


@functools.cache
def relay() -> Relay:
    return Relay(redis_client())


def _start_entry() -> dict:
    """The first entry of a call's stream: which worker runs it (the gateway watches that worker's heartbeat)."""
    return Start(heartbeat()).fields()


def _end_entries(pipe, call: _Call) -> dict:
    """_end for a relayed call: its reasons, token count and first error from its generations."""
    reasons = [
        "stop" if text.stopped else (generation.finish_reason or "error")  # every generation ended by now
        for text, generation in zip(call.texts, call.generations, strict=True)
    ]
    errors = [generation.error for generation in call.generations if generation.error]
    completion_tokens = sum(len(generation.tokens) for generation in call.generations)
    return _end(pipe, call.key, call.texts, reasons, call.prompt_tokens, completion_tokens, errors[0] if errors else "")


def _end(pipe, key: str, texts: list, reasons: list[str], prompt_tokens: int, completion_tokens: int,
         error: str = "") -> dict:  # fmt: skip
    """Queue the text each choice still held back, the summary and the stream's expiry, for the caller to send in
    one round trip with what the pipeline already holds. Returns the summary."""
    summary = Done(tuple(reasons), prompt_tokens, completion_tokens, error).fields()
    for index, text in enumerate(texts):
        tail = text.finish()
        if tail:
            pipe.xadd(key, Token(index, tail).fields())
    pipe.xadd(key, summary)
    pipe.expire(key, STREAM_TTL_SECONDS)
    return summary


def _fail(client, key: str, exc: Exception) -> None:
    client.xadd(key, Failure(f"{type(exc).__name__}: {exc}").fields())
    client.expire(key, STREAM_TTL_SECONDS)


def _stop_poll(client, request_id: str):
    """A function that says whether the gateway asked to stop the call (the client went away), asking Redis at
    most every CANCEL_CHECK_SECONDS."""
    next_check = time.monotonic() + CANCEL_CHECK_SECONDS

    def asked() -> bool:
        nonlocal next_check
        if time.monotonic() < next_check:
            return False
        next_check = time.monotonic() + CANCEL_CHECK_SECONDS
        return bool(client.exists(cancel_key(request_id)))

    return asked


def run_beam_search(request: GenerateRequest) -> dict:
    """A call with `num_beams` > 1: search outside the batch, then stream each returned beam (the `n` best) at
    once. Stop strings cut a beam as they cut a sample; the client going away stops the search between steps."""
    request_id = request.request_id
    key, client = stream_key(request_id), redis_client()
    try:
        client.xadd(key, _start_entry())
        loaded = loaded_model(request.commit_id, request.commit_sha)
        beams = beam_search(
            loaded.model, request.prompt_ids, num_beams=request.num_beams,
            num_return=request.n, max_tokens=request.max_tokens,
            eos_token_id=loaded.tokenizer.eos_token_id, should_stop=_stop_poll(client, request_id),
        )  # fmt: skip
    except Exception as exc:
        logger.exception("beam search %s failed", request_id)
        _fail(client, key, exc)
        raise
    pipe = client.pipeline(transaction=True)
    texts, reasons, completion_tokens = [], [], 0
    for index, beam in enumerate(beams):
        text = TextStream(loaded.tokenizer, request.stop)
        texts.append(text)
        for token_id in beam.token_ids:
            pipe.xadd(key, Token(index, text.push(token_id), token_id).fields())
            completion_tokens += 1
            if text.stopped:
                break
        reasons.append("stop" if text.stopped or beam.ended_by_eos else "length")
    summary = _end(pipe, key, texts, reasons, len(request.prompt_ids), completion_tokens)
    pipe.execute()
    return summary
