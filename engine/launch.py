"""One fine-tune over the processes of a launched group, without Django: the program a machine with several GPUs runs
for one job (docs/training.md, "Several GPUs"). Alone it trains in one process; under `accelerate launch` every
process runs it, each trains on its share of every batch, and the main process writes the result.

    accelerate launch --multi_gpu --num_processes 4 -m engine.launch BASE DATA.jsonl OUT \\
        [--epochs 3] [--batch-size 8] [--learning-rate-multiplier 1] [--seed 0] [--state-dir DIR]

BASE is a checkpoint folder in the HF layout, DATA a training file in any format the store accepts
(engine/datasets.py). Each process prints the sha256 of its final weights: they are the same on every one.
Exits 2 with a message on a dataset it cannot train on."""

import argparse
import hashlib
import json
import sys
from pathlib import Path

from engine import datasets, finetune, parallel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.launch", description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path, help="a checkpoint folder (config.json, model.safetensors, tokenizer)")
    parser.add_argument("data", type=Path, help="a training file (JSONL or plain text)")
    parser.add_argument("out", type=Path, help="where the main process writes the fine-tuned checkpoint")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate-multiplier", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state-dir", type=Path, help="resumable state: a run that finds one here resumes from it")
    args = parser.parse_args(argv)
    parsed = datasets.parse(args.data.read_bytes())
    if parsed.errors or not parsed.records:
        print(f"{args.data}: " + "; ".join(parsed.errors or ["no examples"]), file=sys.stderr)
        return 2
    if args.epochs < 1 or args.batch_size < 1 or args.learning_rate_multiplier <= 0:
        print("--epochs and --batch-size must be at least 1, --learning-rate-multiplier above 0", file=sys.stderr)
        return 2

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    group = parallel.current()

    def checkpoint(_metrics: finetune.Metrics, save) -> None:
        save(args.out)  # each epoch's weights replace the last

    model = AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    hyper = finetune.Hyperparameters(n_epochs=args.epochs, batch_size=args.batch_size,
                                     learning_rate_multiplier=args.learning_rate_multiplier, seed=args.seed)  # fmt: skip
    metrics = finetune.finetune(
        model, tokenizer, parsed.records, hyper, group=group, state_dir=args.state_dir,
        on_checkpoint=checkpoint,
        on_metrics=lambda m: print(json.dumps({"rank": group.rank, **m.as_dict()}), flush=True),
    )  # fmt: skip
    digest = hashlib.sha256(b"".join(t.detach().cpu().numpy().tobytes() for t in model.state_dict().values()))
    print(f"rank {group.rank} of {group.size}: {metrics.step} steps, {metrics.tokens} tokens, weights sha256 "
          f"{digest.hexdigest()}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
