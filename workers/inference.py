"""The infer worker's side of a call, whatever its inference backend: check the request, let the backend
(serving.protocol.InferenceBackend; this worker runs BACKEND, the store's batching engine in
workers/batching_backend.py) load the model and run the call, and write what it makes into the call's Redis Stream,
so the gateway relays tokens as they come and a late reader loses nothing.

Stream `infer:<request id>` (deleted STREAM_TTL_SECONDS after the end): the entries of serving/protocol.py, a
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

from serving.protocol import (
    BackendFactory,
    Done,
    Failure,
    GenerateRequest,
    InferenceBackend,
    InferenceCall,
    Start,
    cancel_key,
    stream_key,
)
from workers.batching_backend import BatchingBackend
from workers.heartbeat import BACKEND, heartbeat  # BACKEND: the inference backend this worker runs

logger = logging.getLogger(__name__)
STREAM_TTL_SECONDS = 300
CANCEL_CHECK_SECONDS = 0.1
BACKENDS: dict[str, BackendFactory] = {BatchingBackend.name: BatchingBackend}


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def backend() -> InferenceBackend:
    return BACKENDS[BACKEND](relay().wake)


def run_generation(request: GenerateRequest) -> dict:
    """Run one call on this worker's backend and stream it. The process's relay writes the entries; this thread
    starts the call and waits for its end. Returns the summary that the last stream entry holds."""
    key, client = stream_key(request.request_id), redis_client()
    if request.backend != BACKEND:  # a queue routed to the wrong workers: say so rather than serve it differently
        _fail(client, key, LookupError(
            f"this worker runs the {BACKEND!r} inference backend, not {request.backend!r}: check "
            "INFERENCE_BACKEND_QUEUES"))  # fmt: skip
        return Failure(f"wrong backend {request.backend!r}").fields()
    gone = _caller_gone(request)
    if gone:  # end its stream as cancelled, as if it had been stopped at once, without loading or computing
        logger.info("dropped generation %s without computing: %s", request.request_id, gone)
        summary = Done(("cancelled",) * request.n, len(request.prompt_ids), 0, f"dropped: {gone}").fields()
        pipe = client.pipeline()
        pipe.xadd(key, summary)
        pipe.expire(key, STREAM_TTL_SECONDS)
        pipe.execute()
        return summary
    writing = None
    try:
        started = False
        if not backend().is_loaded(request):  # loading may take long: say who works on it first
            client.xadd(key, _start_entry())
            started = True
        backend().load(request)
        writing = relay().add(backend().submit(request), key, started)
        writing.call.run()
    except Exception as exc:
        logger.exception("generation %s could not start", request.request_id)
        if writing is not None:
            writing.call.cancel()
            writing.ended.set()  # the relay drops it: its stream ends with the Failure below
        _fail(client, key, exc)
        raise
    if not writing.ended.wait(timeout=settings.INFER_TIMEOUT_SECONDS + 60):  # the gateway gave up long before
        writing.call.cancel()
        raise TimeoutError(f"generation {request.request_id} did not end")
    if writing.failure is not None:
        raise writing.failure
    assert writing.summary is not None  # set with `ended`
    return writing.summary


def _caller_gone(request: GenerateRequest) -> str | None:
    """Why nobody waits for this call any more (a redelivery, or a queue that was long), or None. Its charge
    was released by the gateway when it gave up, so computing it would only take the batch's time. The deadline
    costs nothing to check; the caller's cancel key is asked for only when the model would have to be loaded."""
    if time.time() > request.deadline:
        return "its deadline passed (the gateway answered 504)"
    if backend().is_loaded(request):
        return None  # no round trip on the common path: the relay's cancel poll stops it within 0.1 s anyway
    try:  # before a load (seconds of work), one look at whether the caller already left
        if redis_client().exists(cancel_key(request.request_id)):
            return "its caller went away"
    except redis.RedisError:
        return None  # cannot tell: run it, the relay notices a cancel later
    return None


@dataclasses.dataclass(eq=False)
class Writing:
    """A call the relay writes: its stream, whether its Start is in it, and how it ended."""

    call: InferenceCall
    key: str
    started: bool
    summary: dict | None = None
    failure: Exception | None = None
    ended: threading.Event = dataclasses.field(default_factory=threading.Event)


class Relay:
    """Writes the calls of this worker process into their Redis Streams, from one thread: woken after each engine
    step (the backend calls `wake`), it drains every call's new entries and sends them, with the end of each call
    that finished, in one MULTI/EXEC round trip (a reader wakes once, with all of it). Every CANCEL_CHECK_SECONDS it
    asks Redis, in one round trip, which callers went away, and cancels their calls. One thread and one round trip
    per step however many calls share the batch: per-call threads each waking for each token cost the engine its
    CPU."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self._added: collections.deque[Writing] = collections.deque()
        self._calls: dict[str, Writing] = {}  # under way, by request id; the relay thread's own
        self._wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="infer-relay", daemon=True)
        self.thread.start()

    def add(self, call: InferenceCall, key: str, started: bool) -> Writing:
        """Take a call before it runs. Its Start entry goes with its first entries, or at the relay's next look
        (within CANCEL_CHECK_SECONDS) if they are slow to come: not waking the relay now leaves the engine alone
        for the step that makes them."""
        writing = Writing(call, key, started)
        self._added.append(writing)
        return writing

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
        touched, ended = [], []
        while self._added:
            writing = self._added.popleft()
            self._calls[writing.call.request_id] = writing
        for request_id, writing in list(self._calls.items()):
            if writing.ended.is_set():  # it failed to start: its stream ends with a Failure
                del self._calls[request_id]
                continue
            entries = writing.call.drain()
            if writing.started and not entries:
                continue
            touched.append(writing)
            if not writing.started:
                pipe.xadd(writing.key, _start_entry())
                writing.started = True
            for entry in entries:
                pipe.xadd(writing.key, entry.fields())
            if entries and isinstance(entries[-1], Done):
                writing.summary = entries[-1].fields()
                pipe.expire(writing.key, STREAM_TTL_SECONDS)
                ended.append(writing)
        if not touched:
            return
        try:
            pipe.execute()
        except redis.RedisError as exc:  # these calls' streams miss entries now: end them as failed
            logger.error("could not write %d calls' entries to Redis: %s", len(touched), exc)
            for writing in touched:
                writing.call.cancel()
                writing.failure = exc
                self._calls.pop(writing.call.request_id, None)
                writing.ended.set()
            return
        for writing in ended:
            self._calls.pop(writing.call.request_id, None)
            writing.ended.set()

    def _stop_the_abandoned(self) -> None:
        calls = list(self._calls.values())
        if not calls:
            return
        asked = self.client.mget([cancel_key(writing.call.request_id) for writing in calls])
        for writing, cancelled in zip(calls, asked, strict=True):
            if cancelled:
                writing.call.cancel()


@functools.cache
def relay() -> Relay:
    return Relay(redis_client())


def _start_entry() -> dict:
    """The first entry of a call's stream: which worker runs it (the gateway watches that worker's heartbeat)."""
    return Start(heartbeat()).fields()


def _fail(client, key: str, exc: Exception) -> None:
    client.xadd(key, Failure(f"{type(exc).__name__}: {exc}").fields())
    client.expire(key, STREAM_TTL_SECONDS)
