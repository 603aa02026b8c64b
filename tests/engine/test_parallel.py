"""One fine-tune over two processes (`accelerate launch`, gloo on this CPU): each trains on its share of every batch,
they average their gradients, and they end with the same weights as each other and as the same run in one process
(to float rounding: the sums are split differently). engine/parallel.py, engine/launch.py."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from engine import launch
from engine.pretrain import GPTShape, build_gpt2, pretrain_corpus_sample, save_checkpoint, train_tokenizer
from tests.conftest import free_port

# 13 examples in batches of 4: the last batch has one, so one of two processes has none for that step
RECORDS = [{"prompt": f"Question {i % 5}: what is {i}?", "completion": " yes" * (1 + i % 3)} for i in range(13)]
ARGS = ["--epochs", "2", "--batch-size", "4", "--learning-rate-multiplier", "20", "--seed", "3"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base_and_data(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("parallel")
    tokenizer = train_tokenizer(pretrain_corpus_sample(), vocab_size=512)
    # no dropout: its masks depend on how a batch is split, and the comparison is about the gradients
    model = build_gpt2(tokenizer, GPTShape(n_layer=2, n_head=2, n_embd=64, n_positions=128), dropout=0.0)
    base = save_checkpoint(model, tokenizer, folder / "base")
    data = folder / "data.jsonl"
    data.write_text("\n".join(json.dumps(record) for record in RECORDS))
    return base, data


def test_two_processes_end_with_the_weights_of_one(base_and_data, tmp_path, capsys):
    base, data = base_and_data

    assert launch.main([str(base), str(data), str(tmp_path / "one"), *ARGS]) == 0
    alone = capsys.readouterr().out
    launched = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "--main_process_port", str(free_port()),
         "-m", "engine.launch", str(base), str(data), str(tmp_path / "two"), *ARGS],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert launched.returncode == 0, launched.stderr[-3000:]
    ranks = dict(re.findall(r"rank (\d) of 2: 8 steps, 496 tokens, weights sha256 ([0-9a-f]{64})", launched.stdout))
    assert sorted(ranks) == ["0", "1"]
    assert ranks["0"] == ranks["1"]  # the two processes took the same steps
    assert re.search(r"rank 0 of 1: 8 steps, 496 tokens, weights sha256 [0-9a-f]{64}", alone)
    one, two = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    start = load_file(base / "model.safetensors")
    assert sorted(one) == sorted(two) == sorted(start)
    moved = max(float((one[name] - start[name]).abs().max()) for name in one)
    apart = max(float((one[name] - two[name]).abs().max()) for name in one)
    assert moved > 1e-2  # it trained (the largest change of any weight)
    assert apart < 1e-4  # ... and both ways trained the same (3e-6 here)
    metrics = [json.loads(line) for line in launched.stdout.splitlines() if line.startswith("{")]
    assert [(m["rank"], m["step"], m["tokens"]) for m in metrics] == [(0, 4, 248), (0, 8, 496)]  # the main one reports


def test_a_dataset_with_bad_lines_exits_2_and_writes_nothing(base_and_data, tmp_path, capsys):
    base, _ = base_and_data
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps(RECORDS[0]) + "\n{not json\n")

    assert launch.main([str(base), str(data), str(tmp_path / "out"), *ARGS]) == 2

    assert "line 2:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
