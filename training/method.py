"""The `method` of a fine-tuning job, as the OpenAI API takes it, checked and resolved to numbers.

    {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs", "batch_size", "learning_rate_multiplier"},
                                          "lora": {"r", "alpha", "dropout", "target_modules",
                                                   "gradient_checkpointing"}}}   (lora: ours)

The deprecated top-level `hyperparameters` is read when `method` is absent. "auto" resolves by these rules:
    n_epochs                   3, or more for a small file: ceil(100 / examples), at most 10
    batch_size                 examples // 100, between 1 and 16
    learning_rate_multiplier   1 (the base rate is 1e-4 for full fine-tuning, 1e-3 for LoRA)
"""

import math

from core.exceptions import InvalidInput
from engine.pretrain import PRESETS  # the shapes the worker builds


def hyperparameters_of(resolved: dict) -> dict:
    """The numeric hyperparameters of a resolved method, whatever its type."""
    return resolved[resolved["type"]]["hyperparameters"]


LIMITS = {"n_epochs": (1, 50), "batch_size": (1, 256), "learning_rate_multiplier": (1e-4, 100.0)}
LORA_LIMITS = {"r": (1, 256), "alpha": (1, 4096)}


def resolve(*, method: dict | None, hyperparameters: dict | None, examples: int) -> dict:
    """The method with every hyperparameter a number, or InvalidInput naming the field."""
    if method is None:
        method = {"type": "supervised", "supervised": {"hyperparameters": hyperparameters or {}}}
    if not isinstance(method, dict):
        raise InvalidInput("method must be an object", param="method")
    if method.get("type") == "pretrain":
        return _pretrain(method.get("pretrain") or {})
    if method.get("type") != "supervised":
        unsupported(method.get("type"))
    supervised = method.get("supervised") or {}
    if not isinstance(supervised, dict):
        raise InvalidInput("method.supervised must be an object", param="method.supervised")
    given = supervised.get("hyperparameters") or hyperparameters or {}
    if not isinstance(given, dict):
        raise InvalidInput("hyperparameters must be an object", param="method.supervised.hyperparameters")
    unknown = set(given) - set(LIMITS)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"unknown hyperparameter {name!r}", param=f"method.supervised.hyperparameters.{name}")
    auto = {
        "n_epochs": min(10, max(3, math.ceil(100 / max(examples, 1)))),
        "batch_size": min(16, max(1, examples // 100)),
        "learning_rate_multiplier": 1.0,
    }
    resolved = {name: number(name, given.get(name, "auto"), auto[name]) for name in LIMITS}
    result: dict = {"type": "supervised", "supervised": {"hyperparameters": resolved}}
    if supervised.get("lora") is not None:
        result["supervised"]["lora"] = _lora(supervised["lora"])
    return result


TYPES = ("supervised", "pretrain", "quantize", "prune", "distill")  # the last three: compression/method.py


def unsupported(kind) -> None:
    raise InvalidInput(f"method.type {kind!r} is not supported: use {', '.join(repr(t) for t in TYPES)}",
                       param="method.type")  # fmt: skip


VOCAB_SIZES = (300, 32_000)
PRETRAIN_RATE = 3e-3


def _pretrain(pretrain: dict) -> dict:
    """{"preset": tiny|small|base, "vocab_size", "seq_len", "hyperparameters": {...}}: "auto" epochs are 3,
    batch size 16, and the rate 3e-3 x the multiplier on a warm-up and cosine schedule."""
    if not isinstance(pretrain, dict):
        raise InvalidInput("method.pretrain must be an object", param="method.pretrain")
    unknown = set(pretrain) - {"preset", "vocab_size", "seq_len", "hyperparameters"}
    if unknown:
        raise InvalidInput(f"unknown pretrain field {sorted(unknown)[0]!r}", param="method.pretrain")
    preset = pretrain.get("preset", "tiny")
    if preset not in PRESETS:
        raise InvalidInput(
            f"method.pretrain.preset must be one of {', '.join(PRESETS)}", param="method.pretrain.preset"
        )
    vocab = pretrain.get("vocab_size", 4096)
    if isinstance(vocab, bool) or not isinstance(vocab, int) or not VOCAB_SIZES[0] <= vocab <= VOCAB_SIZES[1]:
        raise InvalidInput(f"vocab_size must be an integer between {VOCAB_SIZES[0]} and {VOCAB_SIZES[1]}",
                           param="method.pretrain.vocab_size")  # fmt: skip
    positions = PRESETS[preset].n_positions
    seq_len = pretrain.get("seq_len", positions)
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or not 16 <= seq_len <= positions:
        raise InvalidInput(f"seq_len must be an integer between 16 and {positions} for the {preset} preset",
                           param="method.pretrain.seq_len")  # fmt: skip
    given = pretrain.get("hyperparameters") or {}
    if not isinstance(given, dict) or set(given) - set(LIMITS):
        raise InvalidInput("hyperparameters: n_epochs, batch_size, learning_rate_multiplier",
                           param="method.pretrain.hyperparameters")  # fmt: skip
    auto = {"n_epochs": 3, "batch_size": 16, "learning_rate_multiplier": 1.0}
    resolved = {name: number(name, given.get(name, "auto"), auto[name], kind="pretrain") for name in LIMITS}
    return {"type": "pretrain", "pretrain": {"preset": preset, "vocab_size": vocab, "seq_len": seq_len,
                                             "hyperparameters": resolved}}  # fmt: skip


def number(name: str, value, auto, *, kind: str = "supervised"):
    param = f"method.{kind}.hyperparameters.{name}"
    if value == "auto":
        return auto
    low, high = LIMITS[name]
    integral = name != "learning_rate_multiplier"
    fractional = isinstance(value, float) and not value.is_integer()  # never float(an int): 10**400 overflows
    if isinstance(value, bool) or not isinstance(value, int | float) or (integral and fractional):
        raise InvalidInput(f"{name} must be {'an integer' if integral else 'a number'} or 'auto'", param=param)
    if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}", param=param)
    return int(value) if integral else float(value)


def _lora(lora) -> dict:
    param = "method.supervised.lora"
    if not isinstance(lora, dict):
        raise InvalidInput("lora must be an object", param=param)
    unknown = set(lora) - {"r", "alpha", "dropout", "target_modules", "gradient_checkpointing"}
    if unknown:
        raise InvalidInput(f"unknown lora field {sorted(unknown)[0]!r}", param=param)
    resolved: dict = {}
    for name, (low, high) in LORA_LIMITS.items():
        value = lora.get(name, 8 if name == "r" else 16)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"lora.{name} must be an integer between {low} and {high}", param=f"{param}.{name}")
        resolved[name] = value
    dropout = lora.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise InvalidInput("lora.dropout must be a number in [0, 1)", param=f"{param}.dropout")
    resolved["dropout"] = float(dropout)
    modules = lora.get("target_modules")
    if modules is not None and (
        not isinstance(modules, list) or not modules or not all(isinstance(m, str) and m for m in modules)
    ):
        raise InvalidInput(
            "lora.target_modules must be a non-empty list of module names", param=f"{param}.target_modules"
        )
    resolved["target_modules"] = modules
    checkpointing = lora.get("gradient_checkpointing", True)
    if not isinstance(checkpointing, bool):
        raise InvalidInput("lora.gradient_checkpointing must be true or false", param=f"{param}.gradient_checkpointing")
    resolved["gradient_checkpointing"] = checkpointing
    return resolved
