"""Build and pretrain a small GPT-2 from plain text: a byte-level BPE tokenizer and a causal LM, saved in the
Hugging Face layout (config.json, model.safetensors, tokenizer files). Used by the demo model and by tests."""

import functools
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SPECIAL_TOKEN = "<|endoftext|>"


def train_tokenizer(texts: Sequence[str], *, vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2 style) wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=[SPECIAL_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=SPECIAL_TOKEN,
        eos_token=SPECIAL_TOKEN,
        unk_token=SPECIAL_TOKEN,
        pad_token=SPECIAL_TOKEN,
        model_max_length=1024,
    )


@dataclass(frozen=True)
class GPTShape:
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    n_positions: int = 128


# The presets of a pretraining job (docs/training.md has their sizes and measured speeds).
PRESETS = {
    "tiny": GPTShape(n_layer=2, n_head=2, n_embd=64, n_positions=128),
    "small": GPTShape(n_layer=4, n_head=4, n_embd=128, n_positions=256),
    "base": GPTShape(n_layer=6, n_head=6, n_embd=384, n_positions=512),
}


def pack(tokenizer, texts: Sequence[str], *, seq_len: int) -> list[list[int]]:
    """The corpus as one stream of tokens (an end-of-text token after each text) cut into windows of `seq_len`:
    every position trains, none is padding. The last partial window is dropped."""
    eos = tokenizer.convert_tokens_to_ids(SPECIAL_TOKEN)
    stream: list[int] = []
    for ids in tokenizer(list(texts), verbose=False)["input_ids"]:  # long texts are cut into windows below
        stream.extend(ids)
        stream.append(eos)
    return [stream[start : start + seq_len] for start in range(0, len(stream) - seq_len + 1, seq_len)]


def build_gpt2(tokenizer, shape: GPTShape, *, seed: int = 0, dropout: float = 0.1):
    """A randomly initialised GPT-2 sized by `shape`, with special-token ids matching the tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    eos = tokenizer.convert_tokens_to_ids(SPECIAL_TOKEN)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=shape.n_positions,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
    )
    return GPT2LMHeadModel(config)


def save_checkpoint(model, tokenizer, directory: Path) -> Path:
    """Save in the HF layout with safetensors weights."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


@dataclass
class TrainResult:
    steps: int
    tokens: int
    seconds: float
    final_loss: float


@dataclass(frozen=True)
class MuonSettings:
    learning_rate: float = 0.02
    weight_decay: float = 0.1


def optimizers_for(model, *, learning_rate: float, muon: MuonSettings | None = None) -> list:
    """AdamW for every parameter; or, with `muon`, Muon for the weight matrices inside the transformer blocks and
    AdamW for the rest (embeddings, which the output layer shares, biases, layer norms), as Muon's authors use it."""
    import torch

    if muon is None:
        return [torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)]
    from engine.muon import Muon

    matrices: list = []
    rest: list = []
    for name, param in model.named_parameters():
        (matrices if param.ndim == 2 and ".h." in name else rest).append(param)
    return [
        Muon(matrices, lr=muon.learning_rate, weight_decay=muon.weight_decay, fan_in_first=True),  # GPT-2's Conv1D
        torch.optim.AdamW(rest, lr=learning_rate, weight_decay=0.01),
    ]


def pretrain(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    steps: int,
    batch_size: int = 16,
    seq_len: int = 128,
    learning_rate: float = 3e-3,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
    muon: MuonSettings | None = None,
    schedule: str = "cosine",
    sampling: str = "random",
) -> TrainResult:
    """Next-token training on windows of the concatenated corpus (plain torch loop, AdamW). With `muon`, the blocks'
    weight matrices train with Muon instead (optimizers_for).

    `schedule`: after a 20-step warm-up, "cosine" decays the rate to zero along a cosine; "wsd" (warm-up, stable,
    decay) holds it and decays it linearly to zero over the last DECAY_SHARE of the steps. `sampling`: "random"
    draws each window's start anywhere; "epoch" takes every window of a pass over the corpus once, in a shuffled
    order, each pass cut at a new random offset."""
    import torch

    rng = random.Random(seed)
    torch.manual_seed(seed)
    eos = tokenizer.convert_tokens_to_ids(SPECIAL_TOKEN)
    ids: list[int] = []
    for text in texts:
        ids.extend(tokenizer(text)["input_ids"])
        ids.append(eos)
    data = torch.tensor(ids, dtype=torch.long)
    if len(data) <= seq_len + 1:
        raise ValueError("corpus is shorter than one training window")
    optimizers = optimizers_for(model, learning_rate=learning_rate, muon=muon)
    shape = functools.partial(_rate_factor, steps=steps, schedule=schedule)
    schedulers = [torch.optim.lr_scheduler.LambdaLR(optimizer, shape) for optimizer in optimizers]
    windows = _windows(len(data), seq_len, rng, sampling)
    model.train()
    started = time.perf_counter()
    loss_value = float("nan")
    for step in range(steps):
        starts = [next(windows) for _ in range(batch_size)]
        batch = torch.stack([data[s : s + seq_len] for s in starts])
        loss = model(input_ids=batch, labels=batch).loss
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for optimizer, scheduler in zip(optimizers, schedulers, strict=True):
            optimizer.step()
            scheduler.step()
        loss_value = loss.item()
        if on_step is not None:
            on_step(step + 1, loss_value)
    model.eval()
    return TrainResult(
        steps=steps, tokens=steps * batch_size * seq_len, seconds=time.perf_counter() - started, final_loss=loss_value
    )


DECAY_SHARE = 0.4  # of the steps, the last ones: where the "wsd" schedule decays the rate to zero


def _rate_factor(step: int, *, steps: int, schedule: str) -> float:
    warmup = min(1.0, (step + 1) / 20)
    if schedule == "cosine":
        return warmup * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1)))
    if schedule == "wsd":
        decay_from = steps * (1 - DECAY_SHARE)
        return warmup * (1.0 if step < decay_from else max(0.0, (steps - step) / (steps - decay_from)))
    raise ValueError(f"unknown schedule {schedule!r}: 'cosine' or 'wsd'")


def _windows(length: int, seq_len: int, rng: random.Random, sampling: str) -> Iterator[int]:
    """The start of each training window in a stream of `length` tokens (a window reads seq_len + 1 of them). An
    unknown `sampling` is refused here, before any training, not at the first window."""
    if sampling == "random":
        return (rng.randrange(0, length - seq_len - 1) for _ in itertools.count())
    if sampling == "epoch":
        return _passes(length, seq_len, rng)
    raise ValueError(f"unknown sampling {sampling!r}: 'random' or 'epoch'")


def _passes(length: int, seq_len: int, rng: random.Random) -> Iterator[int]:
    while True:
        starts = list(range(rng.randrange(seq_len), length - seq_len - 1, seq_len))
        rng.shuffle(starts)
        yield from reversed(starts)  # the order the demo recipe's figures were measured with


def pydoc_corpus() -> list[str]:
    """The documentation topics that ship with Python: a corpus that needs no download."""
    from pydoc_data.topics import topics

    return [topics[key] for key in sorted(topics)]


def stdlib_docstrings(*, longer_than: int = 200) -> list[str]:
    """The longer docstrings (modules, classes, functions) of the standard library's Python files, read with `ast`
    (nothing is imported): top-level modules and the modules of top-level packages, without test packages, IDLE,
    site-packages and pydoc_data (the topics themselves). Prose about Python, like the topics, that ships with it."""
    import ast
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    skipped = ("idlelib", "site-packages", "pydoc_data")
    docstrings: list[str] = []
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        folder = path.parent.name if path.parent != root else ""
        if "test" in folder or folder in skipped:
            continue
        try:
            tree = ast.parse(path.read_text("utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                text = ast.get_docstring(node)
                if text and len(text) > longer_than:
                    docstrings.append(text)
    return docstrings


def pretrain_corpus_sample(limit: int = 60) -> list[str]:
    """A small slice of the pydoc corpus, for tests that need a tokenizer in well under a second."""
    return pydoc_corpus()[:limit]
