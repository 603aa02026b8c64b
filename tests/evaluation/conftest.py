import json
import shutil

import pytest

from tests.conftest import commit_valid_checkpoint

TAGGING = [({"tokens": ["Alice", "visits", "Paris"], "tags": ["B-PER", "O", "B-LOC"]})] * 3
EVAL_FILES = {
    "evals/text.jsonl": [{"text": "The quick brown fox jumps over the lazy dog."}, {"text": "A second document."}],
    "evals/qa.jsonl": [
        {"prompt": "Q: capital of France?\nA:", "reference": "Paris"},
        {"prompt": "Q: two and two?\nA:", "reference": "four"},
    ],
    "evals/choice.jsonl": [
        {"prompt": "The sky is", "choices": [" blue", " loud"], "label": 0},
        {"prompt": "Fire is", "choices": [" hot", " cold"], "label": " hot"},
    ],
    "evals/ner.jsonl": TAGGING,
}


def write_evals(directory, files=EVAL_FILES, broken: str | None = None):
    (directory / "evals").mkdir(exist_ok=True)
    for path, rows in files.items():
        (directory / path).write_text("".join(json.dumps(row) + "\n" for row in rows))
    if broken:
        (directory / broken).write_text('{"text": "fine"}\n{"text": \n')


@pytest.fixture
def evaluated_checkpoint(tiny_checkpoint, tmp_path):
    """The tiny checkpoint with an evals/ folder holding one file of each form and one broken file."""
    target = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, target)
    write_evals(target, broken="evals/broken.jsonl")
    return target


@pytest.fixture
def eval_commit(provider, evaluated_checkpoint):
    commit = commit_valid_checkpoint(provider, "tiny-gpt", evaluated_checkpoint, context_length=128)
    return commit
