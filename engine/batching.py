"""Continuous batching for causal LMs: requests join and leave the running batch between decode steps.

One BatchEngine serves one loaded model. Its loop (one thread) repeats:

    admit   prefill the waiting prompts together (left-padded) and merge their KV cache into the batch's
    decode  one forward pass for every running sequence: one new token each, sampled with its own parameters
    retire  drop finished or cancelled sequences from the batch (and the padding nobody needs any more)

The batch's KV cache is a transformers DynamicCache that appends in place (kv_cache.py), left-padded to a
common length, with an attention mask and per-sequence position ids, so a sequence computes exactly what it would
compute alone (the tests compare greedy output with `generate` token for token). Each request samples with its
own torch.Generator, so a seed gives the same sample whatever else shares the batch. No Django here: the worker
task feeds it and relays tokens."""

import dataclasses
import inspect
import queue
import secrets
import threading
from collections.abc import Callable, Sequence

import torch
from transformers import DynamicCache

from engine.kv_cache import RoomyCache
from engine.sampling import is_penalised, logprobs_of, sample_one

FinishReason = str  # "stop" | "length" | "cancelled" | "error"
SEED_LIMIT = 2**63  # seeds are in [0, 2^63): torch.Generator takes 64 bits, and OpenAI's clients send int64


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    """How to pick each next token. temperature 0 is greedy; `logprobs` asks for that many alternatives."""

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop_token_ids: tuple[int, ...] = ()
    logprobs: int | None = None

    def __post_init__(self):
        checks = [
            (self.max_tokens >= 1, "max_tokens must be at least 1"),
            (0.0 <= self.temperature <= 2.0, "temperature must be between 0 and 2"),
            (0.0 < self.top_p <= 1.0, "top_p must be in (0, 1]"),
            (self.top_k >= 0, "top_k cannot be negative"),
            (self.seed is None or 0 <= self.seed < SEED_LIMIT, f"seed must be in [0, {SEED_LIMIT})"),
            (-2.0 <= self.presence_penalty <= 2.0, "presence_penalty must be between -2 and 2"),
            (-2.0 <= self.frequency_penalty <= 2.0, "frequency_penalty must be between -2 and 2"),
            (self.logprobs is None or 0 <= self.logprobs <= 20, "top_logprobs must be between 0 and 20"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def is_greedy(self) -> bool:
        return self.temperature == 0.0


@dataclasses.dataclass(frozen=True)
class TokenEvent:
    """One generated token, with its log-probability and the best alternatives when asked for (`logprob` is None
    when the generation did not ask: computing it costs a pass over the whole vocabulary)."""

    token_id: int
    logprob: float | None
    top_logprobs: tuple[tuple[int, float], ...] = ()


class Generation:
    """A request in the engine. `on_token` is called from the engine's thread for every token; the result is
    complete when `done` is set (`finish_reason` says why it ended)."""

    def __init__(
        self,
        prompt_ids: Sequence[int],
        params: SamplingParams,
        on_token: Callable[[TokenEvent], None] | None = None,
        on_finish: Callable[[], None] | None = None,
    ):
        if not prompt_ids:
            raise ValueError("the prompt must hold at least one token")
        self.prompt_ids = list(prompt_ids)
        self.params = params
        self.on_token, self.on_finish = on_token, on_finish
        self.tokens: list[TokenEvent] = []
        self.finish_reason: FinishReason | None = None
        self.error: str | None = None
        self._failure: str | None = None  # set by the engine when this generation alone broke (NaN, a bad draw)
        self.done = threading.Event()
        self._cancelled = threading.Event()
        self._generator: torch.Generator | None = None
        self.counts: dict[int, int] = {}

    @property
    def generator(self) -> torch.Generator:
        """This generation's own random numbers: from its seed, or from the OS. Made on first use, since greedy
        generations need none and seeding from the OS through torch costs ~60 µs."""
        if self._generator is None:
            seed = self.params.seed if self.params.seed is not None else secrets.randbits(63)
            self._generator = torch.Generator().manual_seed(seed)
        return self._generator

    def cancel(self) -> None:
        """Stop after the current step (a client went away). Tokens made so far stay in `tokens`."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def token_ids(self) -> list[int]:
        return [event.token_id for event in self.tokens]

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def _emit(self, event: TokenEvent) -> None:
        self.tokens.append(event)
        self.counts[event.token_id] = self.counts.get(event.token_id, 0) + 1
        if self.on_token is not None:
            self.on_token(event)

    def _finish(self, reason: FinishReason, error: str | None = None) -> None:
        self.finish_reason, self.error = reason, error
        self.done.set()
        if self.on_finish is not None:
            self.on_finish()


class BatchEngine:
    """Serves one model to many concurrent generations (see the module's docstring). `on_step`, if given, is
    called from the engine's thread after each step, once the step's tokens and ends have been handed out: a
    relay can then send them together."""

    def __init__(self, model, *, max_batch: int = 32, max_context: int | None = None,
                 on_step: Callable[[], None] | None = None):  # fmt: skip
        self.model = model.eval()
        self.on_step = on_step
        # the prompt's last position is the only one whose logits are used: skip the output layer for the others
        self._last_logits_only = "logits_to_keep" in inspect.signature(model.forward).parameters
        self.device = next(model.parameters()).device
        self.max_batch = max_batch
        self.max_context = (
            max_context or getattr(model.config, "n_positions", None) or model.config.max_position_embeddings
        )
        self._waiting: queue.Queue[Generation] = queue.Queue()
        self._running: list[Generation] = []
        self._cache: DynamicCache | None = None
        self._mask: torch.Tensor | None = None  # [batch, cached length]: 1 for real tokens, 0 for padding
        self._positions: torch.Tensor | None = None  # [batch]: the position of each sequence's next token
        self._next: torch.Tensor | None = None  # [batch]: each sequence's last token, to feed next
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.steps = 0

    # --- the public side, safe from any thread

    def check(self, generation: Generation) -> None:
        """Raise ValueError if the generation cannot be served (its prompt and max_tokens exceed the context)."""
        if len(generation.prompt_ids) + generation.params.max_tokens > self.max_context:
            raise ValueError(
                f"prompt ({len(generation.prompt_ids)} tokens) plus max_tokens ({generation.params.max_tokens}) "
                f"exceeds the model's context of {self.max_context} tokens"
            )

    def submit(self, generation: Generation) -> Generation:
        self.check(generation)
        self._waiting.put(generation)
        self._wakeup.set()
        return generation

    def start(self) -> "BatchEngine":
        self._thread = threading.Thread(target=self._loop, name="batch-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def active(self) -> int:
        return len(self._running) + self._waiting.qsize()

    # --- the loop

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if not self._running and self._waiting.empty():
                self._wakeup.wait(timeout=0.5)
                self._wakeup.clear()
                continue
            try:
                self.step()
            except Exception as exc:  # a bug or an out-of-memory: fail what is in flight, keep serving
                for generation in [*self._running, *self._drain_waiting()]:
                    generation._finish("error", f"{type(exc).__name__}: {exc}")
                self._running, self._cache = [], None
            if self.on_step is not None:
                self.on_step()

    def _drain_waiting(self) -> list[Generation]:
        drained = []
        while True:
            try:
                drained.append(self._waiting.get_nowait())
            except queue.Empty:
                return drained

    @torch.inference_mode()
    def step(self) -> None:
        """Admit, decode one token for everyone, retire. Public so tests can drive the engine without a thread."""
        self._admit()
        self._retire()  # a sequence may be done after its first token
        if self._running:
            self._decode()
            self._retire()
        self.steps += 1

    def _admit(self) -> None:
        joining: list[Generation] = []
        while len(self._running) + len(joining) < self.max_batch:
            try:
                generation = self._waiting.get_nowait()
            except queue.Empty:
                break
            if generation.cancelled:
                generation._finish("cancelled")
                continue
            joining.append(generation)
        if not joining:
            return
        longest = max(len(g.prompt_ids) for g in joining)
        ids = torch.zeros(len(joining), longest, dtype=torch.long, device=self.device)
        mask = torch.zeros(len(joining), longest, dtype=torch.long, device=self.device)
        for row, generation in enumerate(joining):
            length = len(generation.prompt_ids)
            ids[row, longest - length :] = torch.tensor(generation.prompt_ids, device=self.device)
            mask[row, longest - length :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = RoomyCache()
        extra = {"logits_to_keep": 1} if self._last_logits_only else {}
        output = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True, **extra
        )
        logits = output.logits[:, -1, :].float()
        self._merge(output.past_key_values, mask, mask.sum(-1))
        self._running.extend(joining)
        self._sample_and_emit(logits, joining, offset=len(self._running) - len(joining))

    def _merge(self, cache: DynamicCache, mask: torch.Tensor, lengths: torch.Tensor) -> None:
        """Append new sequences (their cache and mask) to the batch, left-padding whichever side is shorter."""
        if self._cache is None:
            self._cache, self._mask, self._positions = cache, mask, lengths.clone()
            return
        old_length, new_length = self._mask.shape[1], mask.shape[1]
        width = max(old_length, new_length)
        for old_layer, new_layer in zip(self._cache.layers, cache.layers, strict=True):
            old_layer.keys = torch.cat([_left_pad(old_layer.keys, width), _left_pad(new_layer.keys, width)])
            old_layer.values = torch.cat([_left_pad(old_layer.values, width), _left_pad(new_layer.values, width)])
        self._mask = torch.cat([_left_pad_mask(self._mask, width), _left_pad_mask(mask, width)])
        self._positions = torch.cat([self._positions, lengths])

    def _decode(self) -> None:
        batch = len(self._running)
        self._mask = torch.cat([self._mask, torch.ones(batch, 1, dtype=torch.long, device=self.device)], dim=1)
        output = self.model(
            input_ids=self._next[:, None],
            attention_mask=self._mask,
            position_ids=self._positions[:, None],
            past_key_values=self._cache,
            use_cache=True,
        )
        self._cache = output.past_key_values
        self._positions = self._positions + 1
        self._sample_and_emit(output.logits[:, -1, :].float(), self._running, offset=0)

    def _sample_and_emit(self, logits: torch.Tensor, generations: list[Generation], *, offset: int) -> None:
        """Pick one token per sequence (rows `offset`... of the batch) and hand it to its generation. A row that
        cannot be sampled (non-finite logits, a draw that raises) fails only its own generation: it gets no token
        and the next retire drops it, while the rest of the batch goes on."""
        chosen = torch.zeros(len(generations), dtype=torch.long, device=self.device)
        broken = torch.isnan(logits).any(dim=-1).tolist()
        for row in (row for row, nan in enumerate(broken) if nan):
            generations[row]._failure = "the model produced NaN logits for this sequence"
        greedy_rows = [row for row, g in enumerate(generations)
                       if g.params.is_greedy and not is_penalised(g) and not broken[row]]  # fmt: skip
        if greedy_rows:
            chosen[greedy_rows] = logits[greedy_rows].argmax(dim=-1)
        for row, generation in enumerate(generations):
            if row not in greedy_rows and generation._failure is None:
                try:
                    chosen[row] = sample_one(logits[row], generation)
                except (RuntimeError, ValueError) as exc:  # torch.multinomial on a broken distribution, and kin
                    generation._failure = f"sampling failed: {exc}"
        tokens = chosen.tolist()
        logprobs, tops = logprobs_of(logits, chosen, generations)
        next_tokens = self._next if self._next is not None and offset > 0 else None
        for row, (generation, token) in enumerate(zip(generations, tokens, strict=True)):
            if generation._failure is None:
                generation._emit(TokenEvent(token, logprobs.get(row), tops.get(row, ())))
        if offset == 0:
            self._next = chosen
        else:
            self._next = torch.cat([next_tokens, chosen]) if next_tokens is not None else chosen

    def _retire(self) -> None:
        keep = []
        for row, generation in enumerate(self._running):
            reason = _finished(generation, self._positions[row].item() if self._positions is not None else 0,
                               self.max_context)  # fmt: skip
            if reason is None:
                keep.append(row)
            else:
                generation._finish(reason, generation._failure)
        if len(keep) == len(self._running):
            return
        self._running = [self._running[row] for row in keep]
        if not keep:
            self._cache = self._mask = self._positions = self._next = None
            return
        index = torch.tensor(keep, device=self.device)
        self._cache.batch_select_indices(index)
        self._mask, self._positions, self._next = self._mask[index], self._positions[index], self._next[index]
        unused = int((self._mask.sum(dim=0) == 0).long().cumprod(0).sum())  # leading columns that are all padding
        if unused:
            self._mask = self._mask[:, unused:]
            for layer in self._cache.layers:
                layer.keys, layer.values = layer.keys[:, :, unused:], layer.values[:, :, unused:]


def _finished(generation: Generation, next_position: int, max_context: int) -> FinishReason | None:
    if generation._failure is not None:
        return "error"
    if generation.cancelled:
        return "cancelled"
    if generation.tokens and generation.tokens[-1].token_id in generation.params.stop_token_ids:
        return "stop"
    if len(generation.tokens) >= generation.params.max_tokens or next_position >= max_context:
        return "length"
    return None


def _left_pad(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """[batch, heads, length, dim] -> [batch, heads, width, dim] with zeros in front."""
    missing = width - tensor.shape[2]
    return tensor if missing == 0 else torch.nn.functional.pad(tensor, (0, 0, missing, 0))


def _left_pad_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    missing = width - mask.shape[1]
    return mask if missing == 0 else torch.nn.functional.pad(mask, (missing, 0))
