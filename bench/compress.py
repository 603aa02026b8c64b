"""What each compression method costs and buys, on a GPT-2 of about 23M parameters (12 layers, 384 wide, context
512, a 4,096-token BPE tokenizer) pretrained for BENCH_COMPRESS_STEPS steps (default 300 of 8 x 128 tokens: about 5 minutes here) by the
demo model's recipe on its corpus (Python's documentation topics and standard-library docstrings), against that parent in the same run:

    int8     engine.compress.quantize: torchao int8 weight-only (GPT-2 rewritten with nn.Linear first)
    prune    engine.compress.prune: half of every MLP's units removed (ratio 0.5), calibrated on the corpus, then a
             recovery fine-tune on the corpus (engine.finetune, BENCH_COMPRESS_RECOVERY windows of 128 tokens)
    distill  engine.compress.distill: a 4-block student of the same width (from the teacher's blocks 0, 4, 7, 11),
             T = 2, alpha 0.5, on BENCH_COMPRESS_DISTILL windows of the corpus

Size is the safetensors bytes; bits per byte the store's verified method (engine.scoring, lm-eval's rolling
log-likelihood) on the standard set (evaluation/data/pkgdocs-1.jsonl, which the corpus does not contain); speed the
store's own serving engine (engine.batching.BatchEngine, as an infer worker runs it): 8 greedy requests of 64 new
tokens together, the best of 3, each model in a fresh process. Ratios are to the parent.
Last line: int8_size=R int8_speed=R int8_bpb_loss_pct=P prune_size=R prune_bpb_loss_pct=P distill_speed=R
distill_bpb_loss_pct=P"""

import functools
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STEPS = int(os.environ.get("BENCH_COMPRESS_STEPS", 300))
RECOVERY = int(os.environ.get("BENCH_COMPRESS_RECOVERY", 800))
DISTILL = int(os.environ.get("BENCH_COMPRESS_DISTILL", 1600))
CONTEXT = 512
print = functools.partial(print, flush=True)


def corpus() -> list[str]:
    """The demo model's training text: Python's documentation topics and 30 % of standard-library docstrings."""
    from engine import demo, pretrain

    return demo.with_docstrings(pretrain.pydoc_corpus(), pretrain.stdlib_docstrings())


def parent(folder: Path) -> Path:
    """The parent, by the demo model's recipe (engine/demo.py: Muon for the blocks, a held rate then a linear
    decay, every window of a pass once) at this size."""
    from engine import demo, pretrain

    tokenizer = pretrain.train_tokenizer(pretrain.pydoc_corpus(), vocab_size=4096)
    model = pretrain.build_gpt2(tokenizer, pretrain.GPTShape(n_layer=12, n_head=6, n_embd=384, n_positions=CONTEXT),
                                dropout=0.0)  # fmt: skip
    started = time.perf_counter()
    result = pretrain.pretrain(model, tokenizer, corpus(), steps=STEPS, batch_size=demo.BATCH, seq_len=demo.SEQ_LEN,
                               learning_rate=demo.LEARNING_RATE, muon=demo.MUON, schedule=demo.SCHEDULE,
                               sampling=demo.SAMPLING)  # fmt: skip
    print(f"parent: {STEPS} steps in {time.perf_counter() - started:.0f} s, final loss {result.final_loss:.3f}")
    return pretrain.save_checkpoint(model, tokenizer, folder / "parent")


def windows(tokenizer, count: int, seed: int) -> list[dict]:
    from engine import pretrain

    packed = pretrain.pack(tokenizer, corpus(), seq_len=128)
    random.Random(seed).shuffle(packed)
    return [{"ids": ids} for ids in (packed * (1 + count // len(packed)))[:count]]


def train(model, tokenizer, records: list[dict], rate_multiplier: float) -> float:
    from engine import finetune

    started = time.perf_counter()
    finetune.finetune(model, tokenizer, records, finetune.Hyperparameters(
        n_epochs=1, batch_size=16, learning_rate_multiplier=rate_multiplier, seed=0, cosine=True))  # fmt: skip
    return time.perf_counter() - started


def pruned(source: Path, folder: Path) -> Path:
    import transformers

    from engine.compress import prune
    from engine.pretrain import save_checkpoint

    model = transformers.AutoModelForCausalLM.from_pretrained(source)
    tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    calibration = prune.calibration_windows(tokenizer, corpus(), seq_len=256)
    smaller = prune.prune(model, calibration, prune.Pruning(ratio=0.5)).model
    seconds = train(smaller, tokenizer, windows(tokenizer, RECOVERY, seed=1), rate_multiplier=10)
    print(f"prune: recovery on {RECOVERY} windows in {seconds:.0f} s")
    return save_checkpoint(smaller, tokenizer, folder / "pruned")


def distilled(source: Path, folder: Path) -> Path:
    import transformers

    from engine.compress import distill
    from engine.pretrain import save_checkpoint

    teacher = transformers.AutoModelForCausalLM.from_pretrained(source)
    tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    student = distill.build_student(teacher, distill.Student(n_layer=4, n_head=6, n_embd=384), seed=0)
    wrapped = distill.wrap(student, teacher, temperature=2.0, alpha=0.5)
    seconds = train(wrapped, tokenizer, windows(tokenizer, DISTILL, seed=2), rate_multiplier=10)
    print(f"distill: {DISTILL} windows in {seconds:.0f} s")
    return save_checkpoint(student, tokenizer, folder / "distilled")


def bits_per_byte(checkpoint: Path) -> float:
    import transformers

    from engine import scoring
    from evaluation import standard_set  # plain Python: no Django

    model = transformers.AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
    documents = standard_set.load().documents
    return scoring.total(scoring.rolling_loglikelihood(model, tokenizer, documents, max_len=CONTEXT)).bits_per_byte


def serving_speed(checkpoint: str, batch: int = 8) -> float:
    """Tokens per second of `batch` greedy requests of 64 new tokens served together by the BatchEngine: the best of
    3."""
    import torch
    import transformers

    from engine.batching import BatchEngine, Generation, SamplingParams

    torch.set_num_threads(os.cpu_count() or 1)
    model = transformers.AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
    engine = BatchEngine(model, max_batch=8).start()
    prompts = [tokenizer(f"The {word}")["input_ids"] for word in ("store", "model", "file", "class", "module",
                                                                   "thread", "value", "list")][:batch]  # fmt: skip
    best = 0.0
    for _ in range(4):  # the first is a warm-up
        params = SamplingParams(max_tokens=64, temperature=0.0, stop_token_ids=())
        started = time.perf_counter()
        running = [engine.submit(Generation(ids, params)) for ids in prompts]
        for generation in running:
            generation.wait(600)
        seconds = time.perf_counter() - started
        best = max(best, sum(len(g.token_ids) for g in running) / seconds)
    engine.stop()
    return best


def rewrite(source: Path, target: Path) -> None:
    import transformers

    from engine.compress import convert

    convert.gpt2_as_linear(transformers.AutoModelForCausalLM.from_pretrained(source)).save_pretrained(target)
    transformers.AutoTokenizer.from_pretrained(source).save_pretrained(target)


def in_fresh_process(function, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def main() -> None:
    from engine.compress import quantize

    with tempfile.TemporaryDirectory(prefix="bench-compress-") as scratch:
        folder = Path(scratch)
        models = {"parent": parent(folder)}
        rewritten = folder / "rewritten"  # the nn.Linear GPT-2 int8 is made from, unquantized: what the rewrite costs
        rewrite(models["parent"], rewritten)
        quantize.quantize(models["parent"], folder / "int8")
        models["int8"] = folder / "int8"
        models["prune"] = pruned(models["parent"], folder)
        models["distill"] = distilled(models["parent"], folder)
        figures = {}
        for name, checkpoint in models.items():
            figures[name] = {
                "size": (checkpoint / "model.safetensors").stat().st_size,
                "bpb": in_fresh_process(bits_per_byte, checkpoint),
                "speed": in_fresh_process(serving_speed, str(checkpoint)),
                "speed_b1": in_fresh_process(serving_speed, str(checkpoint), 1),
            }
            print(name, json.dumps(figures[name]))
        for batch in (1, 8):
            speed = in_fresh_process(serving_speed, str(rewritten), batch)
            print(
                f"rewritten (gpt_bigcode, float32) batch {batch}: {speed:.1f} tok/s, "
                f"{speed / figures['parent']['speed' if batch == 8 else 'speed_b1']:.2f} of the parent's"
            )
    base = figures["parent"]
    ratio = {name: {key: figures[name][key] / base[key] for key in ("size", "speed")} for name in figures}
    loss = {name: 100 * (figures[name]["bpb"] / base["bpb"] - 1) for name in figures}
    print(
        f"int8_speed_b1={figures['int8']['speed_b1'] / base['speed_b1']:.2f} "
        f"distill_speed_b1={figures['distill']['speed_b1'] / base['speed_b1']:.2f}"
    )
    print(f"int8_size={ratio['int8']['size']:.3f} int8_speed={ratio['int8']['speed']:.2f} "
          f"int8_bpb_loss_pct={loss['int8']:.2f} prune_size={ratio['prune']['size']:.3f} "
          f"prune_bpb_loss_pct={loss['prune']:.2f} distill_speed={ratio['distill']['speed']:.2f} "
          f"distill_bpb_loss_pct={loss['distill']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
