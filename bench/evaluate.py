"""Tokens scored per second on the standard set (evaluation/standard_set.py, 154 KB), by the store's evaluation
method (engine.scoring.rolling_loglikelihood: lm-eval's disjoint rolling windows, batched longest first) against,
in the same run, on the same model and documents:

    plain loop   one window at a time through transformers (the same windows, under no_grad, log-softmax and
                 gather): what a user writes by hand;
    lm-eval      lm-evaluation-harness's own HF model (HFLM.loglikelihood_rolling, offline, its default batch size
                 of 1, and batch 8 printed beside it), called on the same documents.

All three must agree on the summed log-likelihood (to 1e-4 relative), or the bench fails. The model is a GPT-2 of
about 23M parameters (12 layers, 384 wide, a 4,096-token BPE tokenizer trained on Python's documentation topics,
random weights: speed does not depend on them), context 512. Each method runs BENCH_EVAL_ROUNDS times (default 2)
alternately and the fastest run counts. Last line: vs_plain_loop=R vs_lm_eval=R"""

import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ROUNDS = int(os.environ.get("BENCH_EVAL_ROUNDS", 2))
CONTEXT = 512


def build(folder: Path):
    from engine import pretrain

    tokenizer = pretrain.train_tokenizer(pretrain.pydoc_corpus(), vocab_size=4096)
    model = pretrain.build_gpt2(tokenizer, pretrain.GPTShape(n_layer=12, n_head=6, n_embd=384, n_positions=CONTEXT))
    return pretrain.save_checkpoint(model, tokenizer, folder / "ckpt")


def ours(model, tokenizer, documents) -> float:
    from engine import scoring

    return scoring.total(scoring.rolling_loglikelihood(model, tokenizer, documents, max_len=CONTEXT)).loglikelihood


def plain_loop(model, tokenizer, documents) -> float:
    import torch

    from engine import scoring

    total = 0.0
    prefix = scoring.prefix_token(tokenizer)
    for document in documents:
        tokens = scoring.encode(tokenizer, document)
        for window in scoring.rolling_windows(tokens, prefix=prefix, max_len=CONTEXT):
            with torch.no_grad():
                logits = model(torch.tensor([window.inputs])).logits[0]
            logprobs = torch.log_softmax(logits.float(), dim=-1)[-len(window.targets) :]
            total += float(logprobs.gather(-1, torch.tensor(window.targets)[:, None]).sum())
    return total


def lm_eval(checkpoint: Path, documents, batch_size: int) -> float:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    model = HFLM(pretrained=str(checkpoint), batch_size=batch_size, device="cpu", max_length=CONTEXT)
    requests = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=(text,), idx=index)
                for index, text in enumerate(documents)]  # fmt: skip
    return sum(model.loglikelihood_rolling(requests, disable_tqdm=True))


def main() -> None:
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    import torch
    import transformers

    from engine import scoring
    from evaluation import standard_set

    documents = list(standard_set.load().documents)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = build(Path(folder))
        model = transformers.AutoModelForCausalLM.from_pretrained(checkpoint).eval()
        tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
        tokens = sum(len(scoring.encode(tokenizer, d)) for d in documents)
        runs = {"ours": lambda: ours(model, tokenizer, documents),
                "plain_loop": lambda: plain_loop(model, tokenizer, documents),
                "lm_eval": lambda: lm_eval(checkpoint, documents, 1),
                "lm_eval_b8": lambda: lm_eval(checkpoint, documents, 8)}  # fmt: skip
        best: dict[str, float] = {}
        answers: dict[str, float] = {}
        for _ in range(ROUNDS):
            for name, run in runs.items():
                started = time.perf_counter()
                answers[name] = run()
                best[name] = min(best.get(name, math.inf), time.perf_counter() - started)
    for name, value in answers.items():
        if not math.isclose(value, answers["ours"], rel_tol=1e-4):
            sys.exit(f"{name} disagrees: log-likelihood {value} against {answers['ours']}")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")  # fmt: skip
    print(
        f"standard set: {len(documents)} documents, {tokens} tokens; context {CONTEXT}; {cpu}, "
        f"{torch.get_num_threads()} threads; log-likelihood {answers['ours']:.3f} (all agree)"
    )
    for name, seconds in best.items():
        print(f"{name:>11}: {seconds:7.2f} s  {tokens / seconds:9.0f} tokens/s")
    print(
        f"vs_plain_loop={best['plain_loop'] / best['ours']:.2f} vs_lm_eval={best['lm_eval'] / best['ours']:.2f} "
        f"vs_lm_eval_b8={best['lm_eval_b8'] / best['ours']:.2f}"
    )


if __name__ == "__main__":
    main()
