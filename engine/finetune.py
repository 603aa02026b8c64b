"""Supervised fine-tuning of a causal LM on dataset records (engine/datasets.py), full or with LoRA
adapters (peft) merged back into full weights at every checkpoint, so every stock client loads the result.
Plain torch: no Django. A job worker (training/run.py) calls `finetune` and turns its checkpoints into
commits.

Loss is taken only on the tokens a record trains: a completion, an assistant message of weight 1, or the whole
`text`. The same seed and data give the same weights on CPU."""

import copy
import dataclasses
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import parallel, train_state

IGNORE = -100
BASE_LEARNING_RATE = 1e-4  # full fine-tuning; × learning_rate_multiplier
LORA_LEARNING_RATE = 1e-3  # LoRA adapters learn faster; × learning_rate_multiplier
METRICS_EVERY = 10
GROUP_BATCHES = 8  # batches whose examples are sorted by length together (_epoch_order)


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    seed: int
    lora: dict | None = None  # {"r", "alpha", "dropout", "target_modules", "gradient_checkpointing"}
    max_length: int = 1024
    base_rate: float | None = None  # None: BASE_LEARNING_RATE, or LORA_LEARNING_RATE with lora
    cosine: bool = False  # a 5 % warm-up, then the rate decays to a tenth along a cosine (pretraining)


@dataclasses.dataclass(frozen=True)
class Metrics:
    step: int
    total_steps: int
    epoch: int
    train_loss: float
    valid_loss: float | None
    train_mean_token_accuracy: float
    tokens: int  # trained so far (the tokens of every example seen, prompt included)
    tokens_per_second: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Stopped(Exception):
    """Training stopped early because `should_stop` asked (`reason`: "cancel", "pause", ...) after `tokens`."""

    def __init__(self, reason: str, tokens: int):
        super().__init__(reason)
        self.reason, self.tokens = reason, tokens


def encode(tokenizer, record: dict, *, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (IGNORE where no loss is taken) of one record, cut to `max_length`."""
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if "ids" in record:  # a packed pretraining window: already tokens, every one trained
        return record["ids"][:max_length], record["ids"][:max_length]
    if "text" in record:
        ids = tokenizer(record["text"])["input_ids"] + eos
        labels = list(ids)
    elif "prompt" in record:
        prompt = tokenizer(record["prompt"])["input_ids"]
        completion = tokenizer(record["completion"])["input_ids"] + eos
        ids, labels = prompt + completion, [IGNORE] * len(prompt) + completion
    else:
        ids, labels = _encode_messages(tokenizer, record["messages"], eos)
    return ids[:max_length], labels[:max_length]


def _encode_messages(tokenizer, messages: list[dict], eos: list[int]) -> tuple[list[int], list[int]]:
    """With the tokenizer's chat template when it has one, else the store's default ("role: content" lines, as
    the gateway renders a chat for such a model). An assistant message is trained unless its weight is 0."""
    ids: list[int] = []
    labels: list[int] = []
    if getattr(tokenizer, "chat_template", None):
        rendered = ""
        for index, message in enumerate(messages):
            plain = [{"role": m["role"], "content": m["content"]} for m in messages[: index + 1]]
            text = tokenizer.apply_chat_template(plain, tokenize=False)
            piece = tokenizer(text[len(rendered) :], add_special_tokens=False)["input_ids"]
            rendered = text
            ids += piece
            labels += piece if message["role"] == "assistant" and message["weight"] else [IGNORE] * len(piece)
        return ids, labels
    for message in messages:
        head = tokenizer(f"{message['role']}: ", add_special_tokens=False)["input_ids"]
        body = tokenizer(f"{message['content']}\n", add_special_tokens=False)["input_ids"]
        trained = message["role"] == "assistant" and message["weight"]
        ids += head + body
        labels += [IGNORE] * len(head) + (body if trained else [IGNORE] * len(body))
    return ids + eos, labels + eos


def count_tokens(tokenizer, records: list[dict], *, max_length: int = 1024) -> int:
    return sum(len(encode(tokenizer, record, max_length=max_length)[0]) for record in records)


def total_steps(examples: int, hyper: Hyperparameters) -> int:
    return math.ceil(examples / hyper.batch_size) * hyper.n_epochs


def finetune(
    model,
    tokenizer,
    records: list[dict],
    hyper: Hyperparameters,
    *,
    valid_records: list[dict] | None = None,
    on_metrics: Callable[[Metrics], None] | None = None,
    on_checkpoint: Callable[[Metrics, Callable[[Path], Path]], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
    state_dir: Path | None = None,
    state_every: int = 0,
    device=None,
    group: parallel.Group = parallel.ALONE,
) -> Metrics:
    """Train `model` in place for `hyper.n_epochs` and return the last metrics. At the end of each epoch,
    `on_checkpoint(metrics, save)` may call `save(directory)` to write full (merged) weights and the tokenizer
    there. Raises Stopped when `should_stop()` answers "cancel" or "pause" (checked before every step).

    With `state_dir`, the run's state (weights, optimizer, RNGs, data position) is saved there at the end of each
    epoch, every `state_every` steps and on a pause, and a run that finds a complete state there resumes from it:
    a run killed and resumed ends with the same weights as one never interrupted.

    `device` (a torch.device; None: the model's) is where it trains: the weights stay float32, and on a CUDA device
    that supports it the forward and backward passes run in bfloat16 autocast.

    `group` (engine/parallel.py) shares each batch among the processes of a launched group, which average
    their gradients and so take the same steps; its main process alone reports, checkpoints and saves the state."""
    import torch

    device = device or group.device or next(model.parameters()).device
    model.to(device)
    mixed = device.type == "cuda" and torch.cuda.is_bf16_supported()

    random.seed(hyper.seed)
    torch.manual_seed(hyper.seed)
    order = random.Random(hyper.seed)
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    length = min(hyper.max_length, context or hyper.max_length)  # an example longer than the model's context is cut
    encoded = [encode(tokenizer, record, max_length=length) for record in records]
    valid = [encode(tokenizer, record, max_length=length) for record in valid_records or []]
    trained = _with_lora(model, hyper.lora) if hyper.lora else model
    base = hyper.base_rate or (LORA_LEARNING_RATE if hyper.lora else BASE_LEARNING_RATE)
    rate = base * hyper.learning_rate_multiplier
    # fused: one kernel for every tensor's update (as Trainer's default, adamw_torch_fused): on 2 CPU cores a step of
    # a 23M-parameter model's optimizer takes ~110 ms instead of ~160 ms (bench/train.py)
    optimizer = torch.optim.AdamW([p for p in trained.parameters() if p.requires_grad], lr=rate, weight_decay=0.0,
                                  fused=device.type in ("cpu", "cuda"))  # fmt: skip
    steps = total_steps(len(encoded), hyper)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    run = _Position(epoch=1, start=0, step=0, tokens=0, indices=None, order=None, losses=[], hits=0, seen=0)
    if state_dir is not None and (saved := train_state.load(state_dir, model=trained, optimizer=optimizer)):
        run = _Position(**saved)
        order.setstate(_as_state(run.order))
    started, metrics = time.perf_counter(), None

    def save_state() -> None:
        if state_dir is not None and group.main:
            train_state.save(state_dir, model=trained, optimizer=optimizer,
                             position=dataclasses.asdict(run) | {"order": order.getstate()})  # fmt: skip

    while run.epoch <= hyper.n_epochs:
        if run.indices is None:
            run.indices = _epoch_order([len(ids) for ids, _ in encoded], hyper.batch_size, order)
        trained.train()
        while run.start < len(run.indices):
            reason = group.agree(should_stop() if should_stop else None)
            if reason == "pause":
                save_state()
            if reason:
                raise Stopped(reason, run.tokens)
            if hyper.cosine:  # the rate follows the step, so a resumed run picks it up from its position
                for param_group in optimizer.param_groups:
                    param_group["lr"] = rate * _cosine(run.step, steps)
            batch = [encoded[i] for i in run.indices[run.start : run.start + hyper.batch_size]]
            share = group.shard(batch)
            weight = 1 if share else 0  # a process left without examples (a short last batch) adds nothing
            ids, mask, labels = (tensor.to(device) for tensor in _pad(share or batch[:1], pad))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed):
                output = trained(input_ids=ids, attention_mask=mask, labels=labels)
            hits, seen = _token_accuracy(output.logits.detach(), labels)
            loss = float(output.loss.detach())
            all_hits, all_seen, all_tokens, all_loss = group.total(
                hits * weight, seen * weight, int(mask.sum()) * weight, loss * seen * weight
            )
            optimizer.zero_grad(set_to_none=True)
            # the group's loss is the mean over all its trained tokens, so each share weighs by its trained tokens
            scale = weight * seen * group.size / max(all_seen, 1)
            (output.loss * scale if group.size > 1 else output.loss).backward()
            group.average_gradients(p for p in trained.parameters() if p.requires_grad)
            torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
            optimizer.step()
            run.step, run.start = run.step + 1, run.start + hyper.batch_size
            run.tokens, run.hits, run.seen = (
                run.tokens + int(all_tokens),
                run.hits + int(all_hits),
                run.seen + int(all_seen),
            )
            run.losses.append(loss if group.size == 1 else all_loss / max(all_seen, 1))
            end_of_epoch = run.start >= len(run.indices)
            if run.step % METRICS_EVERY == 0 or end_of_epoch:
                reported = end_of_epoch and valid and group.main  # the main process alone reports
                valid_loss = _valid_loss(trained, valid, pad) if reported else None
                elapsed = max(time.perf_counter() - started, 1e-9)
                metrics = Metrics(step=run.step, total_steps=steps, epoch=run.epoch,
                                  train_loss=sum(run.losses) / len(run.losses), valid_loss=valid_loss,
                                  train_mean_token_accuracy=run.hits / max(run.seen, 1), tokens=run.tokens,
                                  tokens_per_second=run.tokens / elapsed)  # fmt: skip
                run.losses, run.hits, run.seen = [], 0, 0
                if on_metrics and group.main:
                    on_metrics(metrics)
            if state_every and run.step % state_every == 0 and not end_of_epoch:
                save_state()
        assert metrics is not None  # an epoch has at least one step
        if on_checkpoint and group.main:
            on_checkpoint(metrics, lambda directory: _save(trained, tokenizer, directory, lora=bool(hyper.lora)))
        run.epoch, run.start, run.indices = run.epoch + 1, 0, None
        save_state()
    if metrics is None:  # resumed after the last epoch's state: nothing left to train
        metrics = Metrics(step=run.step, total_steps=steps, epoch=hyper.n_epochs, train_loss=float("nan"),
                          valid_loss=None, train_mean_token_accuracy=0.0, tokens=run.tokens,
                          tokens_per_second=0.0)  # fmt: skip
    return metrics


@dataclasses.dataclass
class _Position:
    """Where a run is: what `state_dir` keeps besides the tensors."""

    epoch: int
    start: int  # the next batch's first index into `indices`
    step: int
    tokens: int
    indices: list[int] | None  # this epoch's order of the examples
    order: object  # the shuffling RNG's state (random.Random.getstate)
    losses: list[float]
    hits: int
    seen: int


def _epoch_order(lengths: list[int], batch_size: int, order: random.Random) -> list[int]:
    """An epoch's order of the examples: shuffled, then sorted longest first within each group of GROUP_BATCHES
    batches, so that a batch's examples have about the same length and little of it is padding (as Trainer's
    group_by_length; bench/train.py: 15 % of the tokens a step computed were padding, 3 % now). Only the last
    batch of the epoch can be short, so batches stay `batch_size` apart in the order."""
    indices = list(range(len(lengths)))
    order.shuffle(indices)
    group = batch_size * GROUP_BATCHES
    return [index for start in range(0, len(indices), group)
            for index in sorted(indices[start : start + group], key=lambda i: -lengths[i])]  # fmt: skip


def _as_state(saved) -> tuple:
    """random.Random.getstate() after a round trip through JSON (lists back to tuples)."""
    version, internal, gauss = saved
    return version, tuple(internal), gauss


def _cosine(step: int, steps: int) -> float:
    warmup = max(1, steps // 20)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def _with_lora(model, lora: dict):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=int(lora.get("r", 8)), lora_alpha=int(lora.get("alpha", 16)), lora_dropout=float(lora.get("dropout", 0.0)),
        target_modules=lora.get("target_modules") or None, task_type="CAUSAL_LM",
        fan_in_fan_out=any(type(module).__name__ == "Conv1D" for module in model.modules()),  # GPT-2's (in, out) weights
    )  # fmt: skip
    adapted = get_peft_model(model, config)
    # LoRA is how to train in less memory. Without the frozen weights' gradients and optimizer state, the activations
    # are most of what is left, so unless the job says "gradient_checkpointing": false they are recomputed in the
    # backward pass rather than kept, as peft's own low-memory recipes do. bench/train.py, 23M parameters on 2 CPU
    # cores: 0.29 of a full fine-tune's peak memory, in 1.6x its time.
    if lora.get("gradient_checkpointing", True):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    return adapted


def _save(trained, tokenizer, directory: Path, *, lora: bool) -> Path:
    """Full weights in safetensors (LoRA merged into a copy, so training can go on) and the tokenizer."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(trained).merge_and_unload() if lora else trained
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


def _pad(batch: list[tuple[list[int], list[int]]], pad: int):
    import torch

    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    for row, (row_ids, row_labels) in enumerate(batch):
        ids[row, : len(row_ids)] = torch.tensor(row_ids)
        mask[row, : len(row_ids)] = 1
        labels[row, : len(row_labels)] = torch.tensor(row_labels)
    return ids, mask, labels


def _token_accuracy(logits, labels) -> tuple[int, int]:
    """Next-token predictions that match, over the trained positions (labels shift by one, as the loss does)."""
    predicted, target = logits[:, :-1].argmax(-1), labels[:, 1:]
    trained = target != IGNORE
    return int((predicted[trained] == target[trained]).sum()), int(trained.sum())


def _valid_loss(model, valid: list[tuple[list[int], list[int]]], pad: int) -> float:
    import torch

    model.eval()
    losses = []
    with torch.inference_mode():
        for start in range(0, len(valid), 8):
            ids, mask, labels = (tensor.to(model.device) for tensor in _pad(valid[start : start + 8], pad))
            losses.append(float(model(input_ids=ids, attention_mask=mask, labels=labels).loss))
    model.train()
    return sum(losses) / len(losses)
