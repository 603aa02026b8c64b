"""The store's own inference backend, "batching": continuous batching over the models this worker process keeps
loaded (engine/batching.py, an LRU of INFER_CACHE_MB), and beam search outside the batch. It implements
serving.protocol.InferenceBackend: it turns the engine's token events into the stream's entries (detokenized, cut
at stop strings) and knows nothing of Redis; workers/inference.py writes what it drains."""

import collections
import functools
from collections.abc import Callable

from django.conf import settings

from engine.batching import SEED_LIMIT, Generation, SamplingParams
from engine.beams import beam_search
from engine.serving import LoadedModel, ModelCache, TextStream, load_model, pick_device, pick_dtype
from registry.checkout import checkout
from registry.models import Commit, ValidationStatus
from serving.protocol import Done, GenerateRequest, Token

FINISHED = object()  # put in a generation's event queue after its last token


@functools.cache
def model_cache() -> ModelCache:
    return ModelCache(budget_bytes=settings.INFER_CACHE_MB * 1024 * 1024)


class BatchingBackend:
    name = "batching"

    def __init__(self, wake: Callable[[], None]):
        self.wake = wake

    def is_loaded(self, request: GenerateRequest) -> bool:
        return request.commit_sha in model_cache()

    def load(self, request: GenerateRequest) -> None:
        self.loaded(request)

    def loaded(self, request: GenerateRequest) -> LoadedModel:
        """The commit's model from this worker's cache (no database query when it is loaded), loading it from the
        blob store on first use. Only valid commits are served: the gateway authorized this one."""

        def load() -> LoadedModel:
            commit = Commit.objects.get(pk=request.commit_id, sha=request.commit_sha,
                                        validation_status=ValidationStatus.VALID)  # fmt: skip
            device = pick_device()
            with checkout(commit) as directory:
                return load_model(directory, key=commit.sha, device=device,
                                  dtype=pick_dtype(settings.INFER_DTYPE, device), max_batch=settings.INFER_MAX_BATCH,
                                  on_step=self.wake)  # fmt: skip

        return model_cache().get(request.commit_sha, load)

    def submit(self, request: GenerateRequest) -> "BatchedCall | BeamCall":
        loaded = self.loaded(request)
        if request.num_beams > 1:
            return BeamCall(request, loaded, self.wake)
        call = BatchedCall(request, loaded)
        for generation in call.generations:
            loaded.engine.check(generation)
        return call


class BatchedCall:
    """A call's `n` choices in the engine's batch (choice i samples with seed + i, modulo 2^63): the engine's thread
    appends each token event to the call's queue and wakes the writer after each step; `drain` detokenizes them."""

    def __init__(self, request: GenerateRequest, loaded: LoadedModel):
        self.request_id = request.request_id
        self.engine = loaded.engine
        self.prompt_tokens = len(request.prompt_ids)
        self._events: collections.deque = collections.deque()  # (choice, TokenEvent or FINISHED)
        self._finished = 0
        eos = loaded.tokenizer.eos_token_id
        base = {"stop_token_ids": (eos,) if eos is not None else (), **request.params}
        self.texts: list[TextStream] = []
        self.generations: list[Generation] = []
        for index in range(request.n):
            seed = base.get("seed")
            params = SamplingParams(**{**base, "seed": (seed + index) % SEED_LIMIT if seed is not None else None})
            self.texts.append(TextStream(loaded.tokenizer, request.stop))
            self.generations.append(Generation(request.prompt_ids, params,
                                               on_token=functools.partial(self._on_token, index),
                                               on_finish=functools.partial(self._on_finish, index)))  # fmt: skip

    def _on_token(self, index: int, event) -> None:
        self._events.append((index, event))

    def _on_finish(self, index: int) -> None:
        self._events.append((index, FINISHED))

    def run(self) -> None:
        for generation in self.generations:
            self.engine.submit(generation)

    def cancel(self) -> None:
        for generation in self.generations:
            generation.cancel()

    def drain(self) -> list[Token | Done]:
        entries: list[Token | Done] = []
        while self._events:
            index, event = self._events.popleft()
            if event is FINISHED:
                self._finished += 1
                if self._finished == len(self.generations):
                    entries += ending(self.texts, self._reasons(), self.prompt_tokens,
                                      sum(len(g.tokens) for g in self.generations), self._error())  # fmt: skip
                continue
            text = self.texts[index]
            if text.stopped:
                continue  # made after a stop string: not part of the answer
            delta = text.push(event.token_id)
            entries.append(Token(index, delta, event.token_id, event.logprob or 0.0,
                                 Token.encode_top(event.top_logprobs)))  # fmt: skip
            if text.stopped:
                self.generations[index].cancel()
        return entries

    def _reasons(self) -> list[str]:
        return ["stop" if text.stopped else (generation.finish_reason or "error")  # every generation ended by now
                for text, generation in zip(self.texts, self.generations, strict=True)]  # fmt: skip

    def _error(self) -> str:
        return next((generation.error for generation in self.generations if generation.error), "")


class BeamCall:
    """A call with `num_beams` > 1: searched outside the batch in `run` (the worker's thread), then every returned
    beam (the `n` best) at once. Stop strings cut a beam as they cut a sample; a cancel stops the search between
    steps."""

    def __init__(self, request: GenerateRequest, loaded: LoadedModel, wake: Callable[[], None]):
        self.request_id = request.request_id
        self.request, self.loaded, self.wake = request, loaded, wake
        self._cancelled = False
        self._entries: list[Token | Done] = []

    def cancel(self) -> None:
        self._cancelled = True

    def run(self) -> None:
        request, tokenizer = self.request, self.loaded.tokenizer
        beams = beam_search(
            self.loaded.model, request.prompt_ids, num_beams=request.num_beams, num_return=request.n,
            max_tokens=request.max_tokens, eos_token_id=tokenizer.eos_token_id, should_stop=lambda: self._cancelled,
        )  # fmt: skip
        entries: list[Token | Done] = []
        texts, reasons, completion_tokens = [], [], 0
        for index, beam in enumerate(beams):
            text = TextStream(tokenizer, request.stop)
            texts.append(text)
            for token_id in beam.token_ids:
                entries.append(Token(index, text.push(token_id), token_id))
                completion_tokens += 1
                if text.stopped:
                    break
            reasons.append("stop" if text.stopped or beam.ended_by_eos else "length")
        self._entries = entries + ending(texts, reasons, len(request.prompt_ids), completion_tokens, "")
        self.wake()

    def drain(self) -> list[Token | Done]:
        entries, self._entries = self._entries, []
        return entries


def ending(texts: list[TextStream], reasons: list[str], prompt_tokens: int, completion_tokens: int,
           error: str) -> list[Token | Done]:  # fmt: skip
    """A call's last entries: the text each choice still held back (the start of what might have been a stop
    string), then the Done."""
    tails = [Token(index, tail) for index, text in enumerate(texts) if (tail := text.finish())]
    return [*tails, Done(tuple(reasons), prompt_tokens, completion_tokens, error)]
