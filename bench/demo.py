"""The demo model's recipe against the first one, in the same run, on the same 95 % of Python's documentation
topics, measured on the held-out 5 % in bits per byte (lower is better), with the wall time of each and the
longest run of blank lines in greedy samples for five fixed prompts (engine/demo.py).

    first recipe   600 batches of 16 random windows of 128 tokens, peak rate 3e-3, dropout 0.1 (bootstrap_demo until
                   issue #12)
    demo recipe    engine/demo.py: 8 % more tokens, in 1,300 batches of 8, no dropout; Muon (rate 0.015,
                   weight decay 0.4) for the blocks' weight matrices, AdamW (peak 3e-3) for the rest, the rate
                   held and then decayed linearly to zero over the last 40 % of the steps; every window of a pass
                   over the text once, shuffled; the standard library's longer docstrings make up 30 % of its
                   training text

Last line: bpb_first=X bpb_demo=Y bpb_ratio=R time_ratio=T longest_blank_run=N seeds=S (means over
BENCH_DEMO_SEEDS, a comma-separated list; 0 alone by default)"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_STEPS, FIRST_BATCH, FIRST_RATE = 600, 16, 3e-3
SCALE = float(os.environ.get("BENCH_DEMO_SCALE", 1))  # < 1: fewer steps for both, for a quick look
VOCAB = 4096
# The seeds to train both recipes with (each seed is one pair); the last line gives the means. The demo model that
# bootstrap_demo publishes is seed 0's, as the first recipe's was.
SEEDS = [int(seed) for seed in os.environ.get("BENCH_DEMO_SEEDS", "0").split(",")]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from engine import demo, pretrain, scoring

    train, held = demo.split(pretrain.pydoc_corpus())
    print(f"{len(train)} training topics, {len(held)} held out ({sum(len(t.encode()) for t in held):,} bytes)")
    firsts, demos, first_times, demo_times, blanks = [], [], [], [], []
    for seed in SEEDS:  # build_gpt2 and pretrain seed torch themselves
        started = time.perf_counter()
        tokenizer = pretrain.train_tokenizer(train, vocab_size=VOCAB)
        first = pretrain.build_gpt2(tokenizer, demo.SHAPE, seed=seed)
        pretrain.pretrain(first, tokenizer, train, steps=max(1, int(FIRST_STEPS * SCALE)), batch_size=FIRST_BATCH,
                          seq_len=demo.SEQ_LEN, learning_rate=FIRST_RATE, seed=seed)  # fmt: skip
        first_times.append(time.perf_counter() - started)
        firsts.append(scoring.bits_per_byte(first, tokenizer, held, seq_len=demo.SEQ_LEN))
        print(f"seed {seed}: first recipe: {first_times[-1]:.0f} s, {firsts[-1]:.3f} bits per byte")

        started = time.perf_counter()
        model, demo_tokenizer, metrics = demo.train(train, vocab_size=VOCAB, steps=max(1, int(demo.STEPS * SCALE)),
                                                    seed=seed)  # fmt: skip
        demo_times.append(time.perf_counter() - started)
        demos.append(scoring.bits_per_byte(model, demo_tokenizer, held, seq_len=demo.SEQ_LEN))
        print(f"seed {seed}: demo recipe: {demo_times[-1]:.0f} s, {metrics.steps} steps, {demos[-1]:.3f} bits per "
              f"byte (ratio {demos[-1] / firsts[-1]:.3f})")  # fmt: skip
        samples = demo.greedy_samples(model, demo_tokenizer)
        for sample in samples:
            print("---", repr(sample[:200]))
        blanks.append(max(demo.longest_blank_run(sample) for sample in samples))
    bpb_first, bpb_demo = statistics.mean(firsts), statistics.mean(demos)
    print(f"bpb_first={bpb_first:.3f} bpb_demo={bpb_demo:.3f} bpb_ratio={bpb_demo / bpb_first:.4f} "
          f"time_ratio={sum(demo_times) / sum(first_times):.2f} longest_blank_run={max(blanks)} "
          f"seeds={len(SEEDS)}")  # fmt: skip


if __name__ == "__main__":
    main()
