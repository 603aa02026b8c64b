"""A training run's resumable state, written atomically: the weights and the optimizer's tensors in safetensors
(never pickle), the RNG states and the data position in JSON, and a manifest with each file's sha256, in a
temporary folder renamed into place. A state whose manifest is missing or whose files do not match it (a worker
killed while writing, a truncated disk) is never resumed from: `load` answers None and training starts over.
No Django here."""

import hashlib
import json
import os
import shutil
from pathlib import Path

MANIFEST = "manifest.json"


def save(directory: Path, *, model, optimizer, position: dict) -> None:
    """Replace the state in `directory` with this one, all or nothing."""
    import torch
    from safetensors.torch import save_file, save_model

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary = directory.with_name(f".{directory.name}.writing")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    save_model(model, str(temporary / "model.safetensors"))
    tensors, groups = _optimizer_tensors(optimizer)
    tensors["torch_rng"] = torch.get_rng_state()
    if torch.cuda.is_available():  # dropout on a GPU draws from its own generator
        tensors["cuda_rng"] = torch.cuda.get_rng_state()
    save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, str(temporary / "optimizer.safetensors"))
    (temporary / "position.json").write_text(json.dumps({**position, "param_groups": groups}))
    manifest = {path.name: _sha256(path) for path in sorted(temporary.iterdir())}
    (temporary / MANIFEST).write_text(json.dumps(manifest))
    _fsync_tree(temporary)
    previous = directory.with_name(f".{directory.name}.old")
    shutil.rmtree(previous, ignore_errors=True)
    if directory.exists():
        os.rename(directory, previous)
    os.rename(temporary, directory)
    shutil.rmtree(previous, ignore_errors=True)


def load(directory: Path, *, model, optimizer) -> dict | None:
    """Restore the model, the optimizer and torch's RNG from a complete state and return its position (epoch,
    batch, order, counters); None when there is no complete state to resume from."""
    import torch
    from safetensors.torch import load_file, load_model

    directory = Path(directory)
    if not is_complete(directory):  # a crash between the two renames of `save` leaves the previous state aside
        directory = directory.with_name(f".{directory.name}.old")
        if not is_complete(directory):
            return None
    load_model(model, str(directory / "model.safetensors"))
    tensors = load_file(str(directory / "optimizer.safetensors"))
    position = json.loads((directory / "position.json").read_text())
    torch.set_rng_state(tensors.pop("torch_rng"))
    cuda_rng = tensors.pop("cuda_rng", None)
    if cuda_rng is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda_rng)
    _restore_optimizer(optimizer, tensors, position.pop("param_groups"))
    return position


def is_complete(directory: Path) -> bool:
    manifest_path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        return bool(manifest) and all(_sha256(Path(directory) / name) == digest for name, digest in manifest.items())
    except (OSError, ValueError):
        return False


def _optimizer_tensors(optimizer) -> tuple[dict, list[dict]]:
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            tensors[f"state.{index}.{name}"] = value if hasattr(value, "shape") else _as_tensor(value)
    return tensors, state["param_groups"]


def _as_tensor(value):
    import torch

    return torch.tensor(value)


def _restore_optimizer(optimizer, tensors: dict, groups: list[dict]) -> None:
    state: dict[int, dict] = {}
    for key, tensor in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = tensor
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
