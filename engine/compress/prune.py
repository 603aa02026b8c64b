"""Structured pruning of a GPT-2: narrow every block's MLP (n_inner) and drop whole blocks, so that the result is a
stock, smaller GPT2Config with dense weights: smaller on disk and in memory, and faster, with no sparse kernels.

What goes is chosen on calibration text:
- an MLP hidden unit's importance is the mean magnitude of its activation times the norm of its outgoing weights
  (the structured form of Wanda, Sun et al. 2023); each block keeps its most important units;
- a block's importance is 1 - the mean cosine similarity of its input and output hidden states (ShortGPT's Block
  Influence, Men et al. 2024): the blocks that change the residual stream least are dropped.
Unstructured magnitude pruning of dense tensors saves nothing and is not done. No Django here."""

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Pruning:
    ratio: float  # the fraction of each MLP's hidden units removed, in (0, 1)
    drop_layers: int = 0  # whole blocks removed


@dataclasses.dataclass(frozen=True)
class Pruned:
    model: Any  # a GPT2LMHeadModel
    kept_layers: list[int]
    n_inner: int
    block_influence: list[float]


def calibration_windows(tokenizer, texts: list[str], *, seq_len: int, limit: int = 32) -> list[list[int]]:
    """Up to `limit` windows of `seq_len` tokens of the texts (the last short piece of each text kept)."""
    windows: list[list[int]] = []
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        windows += [ids[start : start + seq_len] for start in range(0, len(ids), seq_len) if ids[start : start + 2]]
        if len(windows) >= limit:
            break
    return windows[:limit]


def prune(model, windows: list[list[int]], pruning: Pruning) -> Pruned:
    """A smaller GPT-2 made of `model`'s most important units and blocks (see the module)."""
    import torch

    config = model.config
    if config.model_type != "gpt2":
        raise ValueError(f"structured pruning here is for gpt2 models, not {config.model_type}")
    if not windows:
        raise ValueError("no calibration text: the calibration file or set has no tokens")
    if not 0 < pruning.ratio < 1 or not 0 <= pruning.drop_layers < config.n_layer:
        raise ValueError("ratio must be in (0, 1) and drop_layers below the number of layers")
    unit_scores, influence = _importance(model, windows)
    inner = config.n_inner or 4 * config.n_embd
    keep_units = max(1, round(inner * (1 - pruning.ratio)))
    order = sorted(range(config.n_layer), key=lambda layer: influence[layer])
    kept_layers = sorted(set(range(config.n_layer)) - set(order[: pruning.drop_layers]))
    from transformers import GPT2LMHeadModel

    smaller = config.to_dict() | {"n_inner": keep_units, "n_layer": len(kept_layers)}
    smaller.pop("_name_or_path", None)
    result = GPT2LMHeadModel(type(config).from_dict(smaller))
    state = model.state_dict()
    new_state = {}
    for name, tensor in result.state_dict().items():
        if not name.startswith("transformer.h."):
            new_state[name] = state[name]
            continue
        layer, rest = name.removeprefix("transformer.h.").split(".", 1)
        source = kept_layers[int(layer)]
        tensor = state[f"transformer.h.{source}.{rest}"]
        units = unit_scores[source].topk(keep_units).indices.sort().values
        if rest in ("mlp.c_fc.weight", "mlp.c_fc.bias"):
            tensor = tensor[..., units]  # Conv1D (in, out): a unit is a column, and a bias entry
        elif rest == "mlp.c_proj.weight":
            tensor = tensor[units, :]
        new_state[name] = tensor.clone()
    with torch.no_grad():
        result.load_state_dict(new_state)
    result.tie_weights()
    return Pruned(model=result, kept_layers=kept_layers, n_inner=keep_units, block_influence=influence)


def _importance(model, windows: list[list[int]]):
    import torch

    blocks = model.transformer.h
    activation = [torch.zeros(block.mlp.c_proj.weight.shape[0]) for block in blocks]
    similarity = [0.0] * len(blocks)
    tokens = 0
    hooks = []
    for index, block in enumerate(blocks):

        def mlp_input(_module, args, index=index):
            activation[index] += args[0].detach().abs().reshape(-1, args[0].shape[-1]).sum(0).float()

        def block_io(_module, args, output, index=index):
            before, after = args[0], output[0] if isinstance(output, tuple) else output
            similarity[index] += float(torch.nn.functional.cosine_similarity(before, after, dim=-1).sum())

        hooks += [block.mlp.c_proj.register_forward_pre_hook(mlp_input), block.register_forward_hook(block_io)]
    model.eval()
    try:
        with torch.inference_mode():
            for ids in windows:
                model(input_ids=torch.tensor([ids]))
                tokens += len(ids)
    finally:
        for hook in hooks:
            hook.remove()
    scores = [
        (activation[i] / tokens) * block.mlp.c_proj.weight.detach().float().norm(dim=1)
        for i, block in enumerate(blocks)
    ]
    return scores, [1 - total / tokens for total in similarity]
