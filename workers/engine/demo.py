"""The demo model's recipe (`manage.py bootstrap_demo`), on the same engine as pretraining jobs: a byte-level BPE
tokenizer and a small GPT-2 trained on the documentation topics that ship with Python, every 20th topic held out
to measure it in bits per byte. No Django here; bench/demo.py compares it with the first recipe in one run.

A candidate, not yet better than the first recipe, so bootstrap_demo keeps the first one for now. bench/demo.py,
2026-11-30, 2 cores: first recipe 2.195 bits per byte on the held-out topics; this one (packed windows that each
train once per epoch, cleaned text, peak rate 6e-3, warm-up and cosine) 2.253 in 1.15x the time; with the raw text
and a peak of 1e-2, 2.306 in 0.97x. Greedy samples of every variant still end in runs of blank lines. Next to
try: no dropout (GPT2Config's 0.1 slows a model this data-starved), weight decay, a smaller batch for more steps."""

import math
import re
from collections.abc import Callable, Sequence

from workers.engine import finetune, pretrain

HOLD_OUT_EVERY = 20  # 5 % of the topics
SHAPE = pretrain.GPTShape(n_layer=4, n_head=4, n_embd=128, n_positions=256)
SEQ_LEN, BATCH = 128, 16
PEAK_RATE = 6e-3
PROMPTS = ("The with statement", "A list comprehension", "The for statement", "Exceptions are", "def main():")


def clean(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def split(texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """(training topics, held-out topics): every HOLD_OUT_EVERY-th topic is held out."""
    train = [text for index, text in enumerate(texts) if index % HOLD_OUT_EVERY]
    held = [text for index, text in enumerate(texts) if not index % HOLD_OUT_EVERY]
    return train, held


def train(texts: Sequence[str], *, vocab_size: int, steps: int, seed: int = 0,
          on_metrics: Callable[[finetune.Metrics], None] | None = None):  # fmt: skip
    """The tokenizer and model trained for about `steps` batches (whole epochs over the packed corpus)."""
    cleaned = [clean(text) for text in texts]
    tokenizer = pretrain.train_tokenizer(cleaned, vocab_size=vocab_size)
    model = pretrain.build_gpt2(tokenizer, SHAPE, seed=seed)
    windows = [{"ids": ids} for ids in pretrain.pack(tokenizer, cleaned, seq_len=SEQ_LEN)]
    epochs = max(1, round(steps * BATCH / len(windows)))
    hyper = finetune.Hyperparameters(n_epochs=epochs, batch_size=BATCH, learning_rate_multiplier=1.0, seed=seed,
                                     base_rate=PEAK_RATE, cosine=True)  # fmt: skip
    metrics = finetune.finetune(model, tokenizer, windows, hyper, on_metrics=on_metrics)
    model.eval()
    return model, tokenizer, metrics


def bits_per_byte(model, tokenizer, texts: Sequence[str], *, seq_len: int = SEQ_LEN) -> float:
    """The model's cross-entropy on `texts` (as they are, not cleaned) in bits per UTF-8 byte: comparable between
    tokenizers, unlike a loss per token."""
    import torch

    total_bits, total_bytes = 0.0, 0
    for text in texts:
        ids = tokenizer(text, verbose=False)["input_ids"]
        total_bytes += len(text.encode())
        for start in range(0, len(ids) - 1, seq_len):
            window = torch.tensor([ids[start : start + seq_len + 1]])
            if window.shape[1] < 2:
                continue
            with torch.inference_mode():
                logits = model(input_ids=window[:, :-1]).logits
            nats = torch.nn.functional.cross_entropy(logits[0].float(), window[0, 1:], reduction="sum")
            total_bits += float(nats) / math.log(2)
    return total_bits / max(total_bytes, 1)


def greedy_samples(model, tokenizer, *, max_new_tokens: int = 60) -> list[str]:
    import torch

    samples = []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.eos_token_id)  # fmt: skip
        samples.append(tokenizer.decode(out[0], skip_special_tokens=True))
    return samples


def longest_blank_run(text: str) -> int:
    """The most blank lines in a row."""
    runs = [len(run) - 1 for run in re.findall(r"\n(?:[ \t]*\n)+", text)]
    return max(runs, default=0)
