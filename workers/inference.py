"""The infer worker's side of a call: run a generation on the engine of the (cached) model and stream it into
Redis, so the gateway relays tokens as they come and a late reader loses nothing.

Stream `infer:<request id>` (deleted STREAM_TTL_SECONDS after the end), one entry per event:
    {"type": "start", "worker": <worker id>}   first, so the gateway can tell when that worker dies
    {"type": "token", "text": <delta, maybe "">, "token": id, "logprob": x, "top": [[id, x], ...] as JSON}
    {"type": "done", "finish_reason": "stop" | "length" | "cancelled", "prompt_tokens": n, "completion_tokens": n}
    {"type": "error", "message": ...}
The gateway asks for a stop (the client went away) by setting `infer:<request id>:cancel`. Each worker process
keeps `infer:worker:<worker id>` alive while it runs (a heartbeat thread); a gateway waiting on a call whose worker
key expired ends the call with a clear error instead of waiting for its timeout."""

import functools
import json
import logging
import os
import queue
import socket
import threading
import time

import redis
import torch
from django.conf import settings

from registry.checkout import checkout
from registry.models import Commit, ValidationStatus
from workers.engine.batching import Generation, SamplingParams
from workers.engine.beams import beam_search
from workers.engine.serving import LoadedModel, ModelCache, TextStream, load_model, pick_device
from workers.streams import WORKER_HEARTBEAT_TTL_SECONDS, cancel_key, stream_key, worker_key

logger = logging.getLogger(__name__)
STREAM_TTL_SECONDS = 300
CANCEL_CHECK_SECONDS = 0.1
FINISHED = object()  # put in a generation's event queue after its last token


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def heartbeat() -> str:
    """This process's worker id, kept alive in Redis by a daemon thread from the first call on."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    key = worker_key(worker_id)
    redis_client().set(key, 1, ex=WORKER_HEARTBEAT_TTL_SECONDS)

    def beat() -> None:
        while True:
            time.sleep(1)
            try:
                redis_client().set(key, 1, ex=WORKER_HEARTBEAT_TTL_SECONDS)
            except redis.RedisError as exc:
                logger.warning("infer heartbeat failed: %s", exc)

    threading.Thread(target=beat, name="infer-heartbeat", daemon=True).start()
    return worker_id


@functools.cache
def model_cache() -> ModelCache:
    return ModelCache(budget_bytes=settings.INFER_CACHE_MB * 1024 * 1024)


def loaded_model(commit_id: int, commit_sha: str) -> LoadedModel:
    """The commit's model from this worker's cache (no database query when it is loaded), loading it from the
    blob store on first use. Only valid commits are served: the gateway authorized this one."""

    def load() -> LoadedModel:
        commit = Commit.objects.get(pk=commit_id, sha=commit_sha, validation_status=ValidationStatus.VALID)
        with checkout(commit) as directory:
            return load_model(
                directory,
                key=commit.sha,
                device=pick_device(),
                dtype=getattr(torch, settings.INFER_DTYPE),
                max_batch=settings.INFER_MAX_BATCH,
            )

    return model_cache().get(commit_sha, load)


def run_generation(request: dict) -> dict:
    """Generate for one call and stream it. `request`: request_id, commit_id, commit_sha, prompt_ids, params
    (SamplingParams fields), stop (strings), n (choices, default 1; choice i samples with seed + i). Returns the
    summary that the last stream entry also holds."""
    if int(request.get("num_beams") or 1) > 1:
        return run_beam_search(request)
    request_id = request["request_id"]
    key, client = stream_key(request_id), redis_client()
    choices = int(request.get("n") or 1)
    generations: list[Generation] = []
    started = False
    try:
        if request["commit_sha"] not in model_cache():  # loading may take long: say who works on it first
            client.xadd(key, {"type": "start", "worker": heartbeat()})
            started = True
        loaded = loaded_model(request["commit_id"], request["commit_sha"])
        eos = loaded.tokenizer.eos_token_id
        base = {"stop_token_ids": (eos,) if eos is not None else (), **request["params"]}
        events: queue.SimpleQueue = queue.SimpleQueue()
        texts = []
        for index in range(choices):
            seed = base.get("seed")
            params = SamplingParams(**{**base, "seed": seed + index if seed is not None else None})
            texts.append(TextStream(loaded.tokenizer, tuple(request.get("stop") or ())))
            generations.append(
                Generation(
                    request["prompt_ids"],
                    params,
                    on_token=lambda event, index=index: events.put((index, event)),
                    on_finish=lambda index=index: events.put((index, FINISHED)),
                )  # fmt: skip
            )
        for generation in generations:
            loaded.engine.submit(generation)
        if not started:  # sent while the engine works, and still before any token
            client.xadd(key, {"type": "start", "worker": heartbeat()})
    except Exception as exc:
        logger.exception("generation %s could not start", request_id)
        for generation in generations:
            generation.cancel()
        _fail(client, key, exc)
        raise
    stop_asked = _stop_poll(client, request_id)
    running = set(range(choices))
    pipe = client.pipeline(transaction=True)  # MULTI/EXEC: a reader wakes once per relay, with all of it
    while running:
        try:
            waiting = [events.get(timeout=CANCEL_CHECK_SECONDS)]  # wakes at once when a token or an end comes
        except queue.Empty:
            waiting = []
        _take_what_came(waiting, events, generations)
        running -= _relay(pipe, key, waiting, texts, generations)
        if not running:
            break  # the last tokens go with the end, in one round trip
        if pipe.command_stack:
            pipe.execute()
        if stop_asked():
            for generation in generations:
                generation.cancel()
    reasons = [
        "stop" if text.stopped else generation.finish_reason
        for text, generation in zip(texts, generations, strict=True)
    ]
    errors = [generation.error for generation in generations if generation.error]
    completion_tokens = sum(len(generation.tokens) for generation in generations)
    return _end(pipe, key, texts, reasons, len(request["prompt_ids"]), completion_tokens, errors[0] if errors else "")


def _token(index: int, text: str, token: int = -1, logprob: float = 0.0, top: str = "[]") -> dict:
    """A token entry of the stream; token -1 carries text held back until the end (a stop string's start)."""
    return {"type": "token", "index": index, "text": text, "token": token, "logprob": logprob, "top": top}


def _end(pipe, key: str, texts: list, reasons: list[str], prompt_tokens: int, completion_tokens: int,
         error: str = "") -> dict:  # fmt: skip
    """Send what the pipeline holds, the text each choice still held back, and the summary, in one round trip.
    Returns the summary."""
    summary = {"type": "done", "finish_reason": reasons[0], "finish_reasons": json.dumps(reasons),
               "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "error": error}  # fmt: skip
    for index, text in enumerate(texts):
        tail = text.finish()
        if tail:
            pipe.xadd(key, _token(index, tail))
    pipe.xadd(key, summary)
    pipe.expire(key, STREAM_TTL_SECONDS)
    pipe.execute()
    return summary


def _fail(client, key: str, exc: Exception) -> None:
    client.xadd(key, {"type": "error", "message": f"{type(exc).__name__}: {exc}"})
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


def _take_what_came(waiting: list, events: queue.SimpleQueue, generations: list) -> None:
    """Add every event already queued to `waiting`. A choice's last token (its limit reached or an end-of-text
    token) is followed at once by its end: wait that moment for it, so both leave in the same round trip."""
    while True:
        try:
            waiting.append(events.get_nowait())
        except queue.Empty:
            break
    finishing = {index for index, event in waiting if event is not FINISHED and _is_last(generations[index], event)}
    finishing -= {index for index, event in waiting if event is FINISHED}
    while finishing:
        try:
            index, event = events.get(timeout=0.05)
        except queue.Empty:
            return
        waiting.append((index, event))
        if event is FINISHED:
            finishing.discard(index)


def _is_last(generation: Generation, event) -> bool:
    params = generation.params
    return len(generation.tokens) >= params.max_tokens or event.token_id in params.stop_token_ids


def _relay(pipe, key: str, waiting: list, texts: list, generations: list) -> set[int]:
    """Queue the tokens the engine made since the last look for the stream (the caller sends them in one round
    trip). Returns the choices that ended."""
    ended = set()
    for index, event in waiting:
        if event is FINISHED:
            ended.add(index)
            continue
        text = texts[index]
        if text.stopped:
            continue  # made after a stop string: not part of the answer
        delta = text.push(event.token_id)
        top = json.dumps([[token, round(logprob, 6)] for token, logprob in event.top_logprobs])
        pipe.xadd(key, _token(index, delta, event.token_id, event.logprob, top))
        if text.stopped:
            generations[index].cancel()
    return ended


def run_beam_search(request: dict) -> dict:
    """A call with `num_beams` > 1: search outside the batch, then stream each returned beam (the `n` best) at
    once. Stop strings cut a beam as they cut a sample; the client going away stops the search between steps."""
    request_id = request["request_id"]
    key, client = stream_key(request_id), redis_client()
    try:
        client.xadd(key, {"type": "start", "worker": heartbeat()})
        loaded = loaded_model(request["commit_id"], request["commit_sha"])
        beams = beam_search(
            loaded.model, request["prompt_ids"], num_beams=int(request["num_beams"]),
            num_return=int(request.get("n") or 1), max_tokens=int(request["params"]["max_tokens"]),
            eos_token_id=loaded.tokenizer.eos_token_id, should_stop=_stop_poll(client, request_id),
        )  # fmt: skip
    except Exception as exc:
        logger.exception("beam search %s failed", request_id)
        _fail(client, key, exc)
        raise
    pipe = client.pipeline(transaction=True)
    texts, reasons, completion_tokens = [], [], 0
    for index, beam in enumerate(beams):
        text = TextStream(loaded.tokenizer, tuple(request.get("stop") or ()))
        texts.append(text)
        for token_id in beam.token_ids:
            pipe.xadd(key, _token(index, text.push(token_id), token_id))
            completion_tokens += 1
            if text.stopped:
                break
        reasons.append("stop" if text.stopped or beam.ended_by_eos else "length")
    return _end(pipe, key, texts, reasons, len(request["prompt_ids"]), completion_tokens)
