"""Scores of a causal language model on text: the demo's recipe (bench/demo.py, bootstrap_demo) and the store's
verified evaluation (docs/evaluation.md). No Django here.

`rolling_loglikelihood` is lm-evaluation-harness's `loglikelihood_rolling` (HFLM, context_len=1), computed in
batches: each document on its own, prefixed with the model's beginning-of-text token (GPT-2's end-of-text), cut
into disjoint windows of the model's context length that together predict every token once. The last window of a
document keeps a full context before the tokens it predicts, as lm-eval's does. tests/engine/test_lm_eval.py runs
lm-eval itself on the same documents and gets the same figures."""

import dataclasses
import math
import re
from collections.abc import Iterator, Sequence

LOGITS_BUDGET = 2**26  # floats of logits in one forward pass (256 MB): the batch is sized to stay under it
MAX_BATCH = 32  # on a GPU
CPU_BATCH = 4  # on a CPU, bigger batches only spill the caches (bench/evaluate.py: 32 windows ran at 0.7x of 4)


@dataclasses.dataclass(frozen=True)
class Window:
    """One forward pass's worth of a document: `inputs` (at most the context length), of which the last
    `len(targets)` positions predict `targets`."""

    document: int
    inputs: list[int]
    targets: list[int]


@dataclasses.dataclass
class TextScore:
    """Sums over documents: log-likelihood in nats (<= 0), tokens predicted, UTF-8 bytes, whitespace words."""

    loglikelihood: float = 0.0
    tokens: int = 0
    bytes: int = 0
    words: int = 0
    documents: int = 0

    @property
    def bits_per_byte(self) -> float:
        return -self.loglikelihood / max(self.bytes, 1) / math.log(2)

    @property
    def perplexity(self) -> float:
        """Token perplexity: exp of the mean negative log-likelihood per token (depends on the tokenizer)."""
        return math.exp(-self.loglikelihood / max(self.tokens, 1))

    @property
    def byte_perplexity(self) -> float:
        return math.exp(-self.loglikelihood / max(self.bytes, 1))

    @property
    def word_perplexity(self) -> float:
        return math.exp(-self.loglikelihood / max(self.words, 1))

    def figures(self) -> dict:
        return {
            "bits_per_byte": self.bits_per_byte,
            "perplexity": self.perplexity,
            "byte_perplexity": self.byte_perplexity,
            "word_perplexity": self.word_perplexity,
            "loglikelihood": self.loglikelihood,
            "tokens": self.tokens,
            "bytes": self.bytes,
            "words": self.words,
            "documents": self.documents,
        }


def prefix_token(tokenizer) -> int:
    """lm-eval's prefix: the beginning-of-text token, else the end-of-text one (GPT-2 has one token for both)."""
    token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if token is None:
        raise ValueError("the tokenizer has neither a beginning- nor an end-of-text token to prefix documents with")
    return token


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def rolling_windows(tokens: Sequence[int], *, prefix: int, max_len: int, document: int = 0) -> Iterator[Window]:
    """The disjoint windows of lm-eval's get_rolling_token_windows + make_disjoint_window, context_len=1: window k
    predicts tokens[k*max_len:(k+1)*max_len] from the `max_len` tokens of [prefix] + tokens just before them."""
    sequence = [prefix, *tokens]
    for start in range(0, len(tokens), max_len):
        end = min(start + max_len, len(tokens))
        yield Window(document, sequence[max(0, end - max_len) : end], list(tokens[start:end]))


def rolling_loglikelihood(model, tokenizer, texts: Sequence[str], *, max_len: int, device=None) -> list[TextScore]:
    """Each text's TextScore (log-likelihood summed over its windows), in the order given. Windows of all texts
    are scored together in batches, longest first, padded on the right (a causal model's earlier positions never
    see the padding)."""
    import torch

    device = device or next(model.parameters()).device
    prefix = prefix_token(tokenizer)
    scores = [TextScore(bytes=len(text.encode()), words=len(re.split(r"\s+", text)), documents=1) for text in texts]
    windows = [window for index, text in enumerate(texts)
               for window in rolling_windows(encode(tokenizer, text), prefix=prefix, max_len=max_len, document=index)]  # fmt: skip
    windows.sort(key=lambda window: -len(window.inputs))
    vocab = model.get_output_embeddings().weight.shape[0]
    cap = MAX_BATCH if getattr(device, "type", str(device)) == "cuda" else CPU_BATCH
    batch_size = max(1, min(cap, LOGITS_BUDGET // max(1, max_len * vocab)))
    for first in range(0, len(windows), batch_size):
        batch = windows[first : first + batch_size]
        width = len(batch[0].inputs)
        inputs = torch.zeros((len(batch), width), dtype=torch.long)
        for row, window in enumerate(batch):
            inputs[row, : len(window.inputs)] = torch.tensor(window.inputs)
        with torch.inference_mode():
            logits = model(input_ids=inputs.to(device)).logits
            for row, window in enumerate(batch):
                end, count = len(window.inputs), len(window.targets)
                scored = logits[row, end - count : end].float()  # log p(target) = its logit - logsumexp(logits)
                targets = torch.tensor(window.targets, device=device)[:, None]
                picked = scored.gather(-1, targets).sum() - torch.logsumexp(scored, dim=-1).sum()
                scores[window.document].loglikelihood += float(picked)
                scores[window.document].tokens += count
    return scores


def total(scores: Sequence[TextScore]) -> TextScore:
    summed = TextScore()
    for score in scores:
        summed.loglikelihood += score.loglikelihood
        summed.tokens += score.tokens
        summed.bytes += score.bytes
        summed.words += score.words
        summed.documents += score.documents
    return summed


def bits_per_byte(model, tokenizer, texts: Sequence[str], *, seq_len: int) -> float:
    """The model's cross-entropy on `texts` (as they are, not cleaned) in bits per UTF-8 byte: comparable between
    tokenizers, unlike a loss per token. Each text is scored in windows of `seq_len` predicted tokens; the first
    token of each text is context only. (The demo recipe's own measure, kept as it was so its history in
    docs/benchmarks.md stays comparable; the store's evaluation is `rolling_loglikelihood`.)"""
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
