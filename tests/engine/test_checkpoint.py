"""Checkpoint inspection: what is accepted, what is refused and why, and that pickles are never loaded."""

import json
import pickle
import zipfile

import pytest

from engine.checkpoint import inspect_checkpoint
from engine.errors import BadCheckpoint


class _Boom:
    """Unpickling this runs `touch marker`: the test shows the marker is never created."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_good_checkpoint_gets_a_full_report(tiny_checkpoint):
    report = inspect_checkpoint(tiny_checkpoint)

    assert report["architecture"] == "GPT2LMHeadModel"
    assert report["parameters"] == 141056
    assert report["dtype"] == "F32"
    assert report["context_length"] == 128
    assert report["vocab_size"] == 512
    assert report["size_bytes"] == sum(p.stat().st_size for p in tiny_checkpoint.iterdir())
    assert report["load_seconds"] >= 0
    assert report["sample"].startswith("The")


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "model.pth", "model.ckpt", "model.safetensors"])
def test_pickled_weights_are_refused_by_content_and_never_loaded(checkpoint_copy, tmp_path, name):
    marker = tmp_path / "pwned"
    (checkpoint_copy / name).write_bytes(pickle.dumps(_Boom(marker), protocol=4))

    with pytest.raises(
        BadCheckpoint, match=f"{name}: the file is a Python pickle.*Convert the checkpoint to safetensors"
    ):
        inspect_checkpoint(checkpoint_copy)
    assert not marker.exists()


def test_a_torch_zip_archive_holding_data_pkl_is_refused(checkpoint_copy, tmp_path):
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(checkpoint_copy / "weights.safetensors", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(_Boom(marker)))

    with pytest.raises(BadCheckpoint, match="torch zip archive holding a pickle"):
        inspect_checkpoint(checkpoint_copy)
    assert not marker.exists()


def test_python_files_are_refused(checkpoint_copy):
    (checkpoint_copy / "modeling_evil.py").write_text("print('hi')")

    with pytest.raises(BadCheckpoint, match=r"code files are not accepted \(modeling_evil.py\)"):
        inspect_checkpoint(checkpoint_copy)


def test_auto_map_in_config_is_refused(checkpoint_copy):
    config = json.loads((checkpoint_copy / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.Evil"}
    (checkpoint_copy / "config.json").write_text(json.dumps(config))

    with pytest.raises(BadCheckpoint, match="auto_map"):
        inspect_checkpoint(checkpoint_copy)


def test_model_type_outside_the_allowlist_is_refused(checkpoint_copy):
    config = json.loads((checkpoint_copy / "config.json").read_text())
    config["model_type"] = "bert"
    (checkpoint_copy / "config.json").write_text(json.dumps(config))

    with pytest.raises(BadCheckpoint, match="model_type 'bert' is not an accepted causal LM"):
        inspect_checkpoint(checkpoint_copy)


def test_weights_that_do_not_match_the_config_are_refused(checkpoint_copy):
    config = json.loads((checkpoint_copy / "config.json").read_text())
    config["n_layer"] = 3
    (checkpoint_copy / "config.json").write_text(json.dumps(config))

    with pytest.raises(
        BadCheckpoint, match="describes a model with 191,040 parameters but the safetensors files hold 141,056"
    ):
        inspect_checkpoint(checkpoint_copy)


def test_truncated_safetensors_is_refused(checkpoint_copy):
    weights = checkpoint_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])

    with pytest.raises(BadCheckpoint, match=r"model\.safetensors: tensor data covers"):
        inspect_checkpoint(checkpoint_copy)


def test_eval_files_are_accepted_beside_the_weights_and_nothing_deeper(checkpoint_copy):
    (checkpoint_copy / "evals").mkdir()
    (checkpoint_copy / "evals" / "ner.jsonl").write_text('{"tokens": ["a"], "tags": ["O"]}\n')
    assert "evals/ner.jsonl" in inspect_checkpoint(checkpoint_copy, load=False)["files"]
    (checkpoint_copy / "evals" / "deeper").mkdir()
    (checkpoint_copy / "evals" / "deeper" / "x.jsonl").write_text("{}\n")
    with pytest.raises(BadCheckpoint, match=r"files not allowed in a checkpoint: evals/deeper/x\.jsonl"):
        inspect_checkpoint(checkpoint_copy)


def test_unknown_files_and_missing_tokenizer_are_refused(checkpoint_copy):
    (checkpoint_copy / "notes.xlsx").write_bytes(b"x")
    with pytest.raises(BadCheckpoint, match=r"files not allowed in a checkpoint: notes\.xlsx"):
        inspect_checkpoint(checkpoint_copy)
    (checkpoint_copy / "notes.xlsx").unlink()
    (checkpoint_copy / "tokenizer.json").unlink()
    with pytest.raises(BadCheckpoint, match="no tokenizer"):
        inspect_checkpoint(checkpoint_copy)
