"""Scores of a causal language model on text, shared by the demo's recipe (bench/demo.py, bootstrap_demo) and the
evaluations that will reuse them. No Django here."""

import math
from collections.abc import Sequence


def bits_per_byte(model, tokenizer, texts: Sequence[str], *, seq_len: int) -> float:
    """The model's cross-entropy on `texts` (as they are, not cleaned) in bits per UTF-8 byte: comparable between
    tokenizers, unlike a loss per token. Each text is scored in windows of `seq_len` predicted tokens; the first
    token of each text is context only."""
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
