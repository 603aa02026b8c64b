"""What an inference worker keeps in memory: loaded models with their batching engines, in an LRU cache bounded
by a memory budget, and the detokenizer that turns a stream of token ids into text deltas with stop strings.
No Django here."""

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from engine.batching import BatchEngine

if TYPE_CHECKING:  # annotations only: transformers is imported when a model loads
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def pick_device() -> torch.device:
    """CUDA when present, else CPU; chosen once when a worker starts."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(name: str, device: torch.device, cpu_capabilities: dict | None = None) -> torch.dtype:
    """The dtype to serve in: `name`, or for "auto" bfloat16 where it is fast (a CUDA device that supports it, a
    CPU with AMX-BF16: ~1.5× the throughput) and float32 elsewhere (on a CPU without AMX, bfloat16 matrix work is
    ~50× slower). docs/serving.md ("bf16") has the measurements."""
    if name != "auto":
        return getattr(torch, name)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    capabilities = cpu_capabilities if cpu_capabilities is not None else torch.cpu.get_capabilities()
    return torch.bfloat16 if capabilities.get("amx_bf16") else torch.float32


@dataclasses.dataclass
class LoadedModel:
    """One model ready to serve: weights on the device, its tokenizer, and the engine that batches its calls."""

    key: str
    model: "PreTrainedModel"
    tokenizer: "PreTrainedTokenizerBase"
    engine: BatchEngine
    nbytes: int

    @property
    def context_length(self) -> int:
        return self.engine.max_context


def load_model(directory: Path, *, key: str, device: torch.device, dtype: torch.dtype, max_batch: int,
               on_step: Callable[[], None] | None = None) -> LoadedModel:  # fmt: skip
    """Load a validated checkpoint (safetensors only, never remote code) and start its engine (`on_step`: see
    BatchEngine)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype, use_safetensors=True)
    model = model.to(device).eval()  # type: ignore[arg-type]  # transformers types .to() on its wrapper only
    tokenizer = AutoTokenizer.from_pretrained(directory)
    nbytes = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    engine = BatchEngine(model, max_batch=max_batch, on_step=on_step).start()
    return LoadedModel(key=key, model=model, tokenizer=tokenizer, engine=engine, nbytes=nbytes)


class ModelCache:
    """Loaded models by key (a commit sha), least recently used first out when the budget is exceeded. One copy
    of the weights per model however many requests share it; concurrent first requests load it once."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], LoadedModel]) -> LoadedModel:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one loader per key; the others wait for it
            with self._lock:
                if key in self._models:
                    self._models.move_to_end(key)
                    return self._models[key]
            loaded = load()
            with self._lock:
                self._models[key] = loaded
                self._loading.pop(key, None)
                self._evict(keep=key)
            return loaded

    def _evict(self, *, keep: str) -> None:
        """Unload least recently used models until within budget, skipping the one just loaded and any still
        serving (evicting it would cut its calls short); over budget for a while is better than that."""
        for key in list(self._models):
            if self.used_bytes <= self.budget_bytes:
                return
            if key == keep or self._models[key].engine.active:
                continue
            self._models.pop(key).engine.stop()

    @property
    def used_bytes(self) -> int:
        return sum(loaded.nbytes for loaded in self._models.values())

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._models

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._models)


class TextStream:
    """Turns token ids into text deltas as they arrive. Holds back text that may still become a stop string or an
    incomplete UTF-8 character, and reports when a stop string appears (the text before it is the output).

    Decoding is incremental, as in vLLM and transformers' TextStreamer: each token decodes a short window (the
    tokens since the last complete text, after the ones read before them for context) instead of the whole
    sequence, which cost O(length) per token (41 µs per token over 512 tokens against 12 over 64)."""

    def __init__(self, tokenizer, stop: tuple[str, ...] = ()):
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.token_ids: list[int] = []
        self.text = ""  # the text of token_ids[:read_offset]
        self.sent = ""  # text already handed out (a prefix of `text`)
        self.stopped = False
        self._prefix_offset = 0  # token_ids[prefix_offset:read_offset] give the window its context
        self._read_offset = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _advance(self) -> bool:
        """Extend `text` with the tokens not read yet; False while they end inside a multi-byte character."""
        window = self.token_ids[self._prefix_offset :]
        full = self._decode(window)
        if full.endswith("\ufffd"):
            return False  # half of a multi-byte character: wait for the rest
        known = self._decode(self.token_ids[self._prefix_offset : self._read_offset])
        self.text += full[len(known) :]
        self._prefix_offset, self._read_offset = self._read_offset, len(self.token_ids)
        return True

    def push(self, token_id: int) -> str:
        """Add one token; return the text that is now safe to send (maybe empty)."""
        if self.stopped:
            return ""
        self.token_ids.append(token_id)
        if not self._advance():
            return ""
        text = self.text
        for stop in self.stop:
            index = text.find(stop, max(0, len(self.sent) - len(stop)))
            if index != -1:
                self.stopped = True
                return self._release(text[:index])
        hold = max((len(s) - 1 for s in self.stop), default=0)
        for length in range(min(hold, len(text)), 0, -1):  # a suffix that could start a stop string waits
            if any(stop.startswith(text[-length:]) for stop in self.stop):
                return self._release(text[:-length])
        return self._release(text)

    def finish(self) -> str:
        """The rest of the text once generation ended (no stop string will complete any more)."""
        if self.stopped:
            return ""
        return self._release(self._decode(self.token_ids))

    def _release(self, text: str) -> str:
        if len(text) <= len(self.sent) or not text.startswith(self.sent):
            return ""
        delta, self.sent = text[len(self.sent) :], text
        return delta
