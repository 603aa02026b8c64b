"""Inspect an uploaded checkpoint directory: static checks first (files, pickle, config, safetensors headers),
then load it with transformers and generate a few tokens. Raises BadCheckpoint with an actionable reason."""

import fnmatch
import json
import os
import re
import time
from pathlib import Path

from engine.errors import BadCheckpoint
from engine.pickle_scan import CONVERT_HINT, looks_like_pickle
from engine.safetensors_header import SafetensorsHeader, read_header

ALLOWED_FILES = (
    "*.safetensors",
    "model.safetensors.index.json",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "README.md",
    ".gitattributes",
)
CAUSAL_LM_TYPES = frozenset(
    {"gpt2", "gpt_neo", "gpt_neox", "gptj", "llama", "mistral", "mixtral", "qwen2", "qwen3", "phi", "phi3",
     "gemma", "gemma2", "opt", "bloom", "falcon", "olmo", "olmo2", "stablelm", "starcoder2", "smollm3", "gpt_bigcode"}
)  # fmt: skip
TOKENIZER_FILE_SETS = (("tokenizer.json",), ("vocab.json", "merges.txt"))
MAX_CONFIG_BYTES = 1024 * 1024
QUANT_METHODS = ("torchao",)  # quantization_config.quant_method values the store loads (docs/compression.md)
# torchao keeps a quantized weight `w` as `_w_qdata` (one value per weight) and its scales beside it
TORCHAO_META = re.compile(r"(^|\.)_[A-Za-z0-9_]+_(scale|zero_point|scale_and_zero|per_tensor_scale|act_pre_scale)$")
SMOKE_PROMPT = "The"
SMOKE_TOKENS = 8


# a provider's eval files (engine/evalfiles.py, docs/evaluation.md): JSONL data the evaluation reads, never runs
EVAL_FILE = re.compile(r"evals/[^/]+\.jsonl")


def _is_allowed(name: str) -> bool:
    if EVAL_FILE.fullmatch(name):
        return True
    base = name.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(base, pattern) for pattern in ALLOWED_FILES) and "/" not in name


def list_files(directory: Path) -> list[str]:
    return sorted(
        str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file() or path.is_symlink()
    )


def check_files(directory: Path, files: list[str]) -> None:
    """Pickles (by content, any name) first, then code, then anything not on the allowlist."""
    for name in files:
        with open(directory / name, "rb") as handle:
            reason = looks_like_pickle(handle)
        if reason:
            raise BadCheckpoint(f"{name}: {reason}. {CONVERT_HINT}")
    code = [name for name in files if name.endswith((".py", ".pyc", ".so"))]
    if code:
        raise BadCheckpoint(f"code files are not accepted ({', '.join(code)}); the store never runs uploaded code")
    others = [name for name in files if not _is_allowed(name)]
    if others:
        raise BadCheckpoint(
            f"files not allowed in a checkpoint: {', '.join(others)}. Allowed: {', '.join(ALLOWED_FILES)}, and "
            "evals/*.jsonl"
        )
    if not any(name.endswith(".safetensors") for name in files):
        raise BadCheckpoint("no weights: upload the model as *.safetensors")
    if "config.json" not in files:
        raise BadCheckpoint("config.json is missing")
    if not any(all(name in files for name in group) for group in TOKENIZER_FILE_SETS):
        raise BadCheckpoint("no tokenizer: upload tokenizer.json (or vocab.json and merges.txt)")


def read_config(directory: Path) -> dict:
    path = directory / "config.json"
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise BadCheckpoint("config.json is larger than 1 MiB")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadCheckpoint(f"config.json is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise BadCheckpoint("config.json must be a JSON object")
    if "auto_map" in config:
        raise BadCheckpoint(
            "config.json has auto_map, which asks for custom code; only built-in architectures are accepted"
        )
    quantization = config.get("quantization_config")
    if quantization is not None and (not isinstance(quantization, dict) or quantization.get("quant_method")
                                     not in QUANT_METHODS):  # fmt: skip
        method = quantization.get("quant_method") if isinstance(quantization, dict) else quantization
        raise BadCheckpoint(f"quantization_config {method!r} is not one the store loads; accepted: "
                            f"{', '.join(QUANT_METHODS)}")  # fmt: skip
    model_type = config.get("model_type")
    if model_type not in CAUSAL_LM_TYPES:
        raise BadCheckpoint(
            f"model_type {model_type!r} is not an accepted causal LM; accepted: {', '.join(sorted(CAUSAL_LM_TYPES))}"
        )
    architectures = config.get("architectures") or []
    if not isinstance(architectures, list) or not all(
        isinstance(a, str) and a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures
    ):
        raise BadCheckpoint(f"architectures {architectures!r} are not causal language models")
    return config


def read_headers(directory: Path, files: list[str]) -> dict[str, SafetensorsHeader]:
    headers = {}
    for name in files:
        if name.endswith(".safetensors"):
            path = directory / name
            with open(path, "rb") as handle:
                try:
                    headers[name] = read_header(handle, file_size=os.path.getsize(path))
                except BadCheckpoint as exc:
                    raise BadCheckpoint(f"{name}: {exc}") from None
    names = [tensor for header in headers.values() for tensor in header.tensors]
    if len(names) != len(set(names)):
        raise BadCheckpoint("the same tensor name appears in more than one safetensors file")
    return headers


def stored_parameters(headers: dict[str, SafetensorsHeader], *, quantized: bool) -> int:
    """The parameters the files hold: every tensor's elements, or for a torchao checkpoint, its plain tensors and one
    per quantized weight (not its scales and zero points)."""
    if not quantized:
        return sum(header.parameter_count for header in headers.values())
    return sum(info.numel for header in headers.values() for name, info in header.tensors.items()
               if not TORCHAO_META.search(name))  # fmt: skip


def expected_parameters(config: dict) -> int:
    """Parameters the config describes, counted on the meta device (no memory, no weights read)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        model_config = AutoConfig.for_model(**config)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(model_config, trust_remote_code=False)
    except Exception as exc:  # transformers raises many kinds; all mean "bad config"
        raise BadCheckpoint(f"config.json does not describe a model transformers can build: {exc}") from None
    # parameters() yields a tied weight once (as save_pretrained stores it); add buffers that are saved
    non_persistent = {
        f"{prefix}.{name}" if prefix else name
        for prefix, module in model.named_modules()
        for name in getattr(module, "_non_persistent_buffers_set", ())
    }
    buffers = sum(b.numel() for name, b in model.named_buffers() if name not in non_persistent)
    return sum(p.numel() for p in model.parameters()) + buffers


def smoke_test(directory: Path) -> dict:
    """Load with transformers (safetensors only, no remote code) and greedily generate a few tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(directory, use_safetensors=True, trust_remote_code=False)
    except Exception as exc:
        raise BadCheckpoint(f"transformers could not load the model: {exc}") from None
    load_seconds = time.perf_counter() - started
    model.eval()
    try:
        inputs = tokenizer(SMOKE_PROMPT, return_tensors="pt")
        if inputs["input_ids"].shape[1] == 0:
            inputs = {"input_ids": torch.tensor([[0]])}
        with torch.inference_mode():
            output = model.generate(  # type: ignore[misc]  # the stub binds generate to its mixin, not the model
                **inputs,
                max_new_tokens=SMOKE_TOKENS,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
            )
        sample = tokenizer.decode(output[0], skip_special_tokens=True)
    except Exception as exc:
        raise BadCheckpoint(f"the model loaded but could not generate: {exc}") from None
    return {"load_seconds": round(load_seconds, 3), "sample": sample}


def inspect_checkpoint(directory: Path, *, load: bool = True) -> dict:
    """The validation report for a checkpoint directory, or BadCheckpoint."""
    directory = Path(directory)
    files = list_files(directory)
    check_files(directory, files)
    config = read_config(directory)
    headers = read_headers(directory, files)
    stored = stored_parameters(headers, quantized=bool(config.get("quantization_config")))
    expected = expected_parameters(config)
    if stored != expected:
        raise BadCheckpoint(
            f"config.json describes a model with {expected:,} parameters but the safetensors files hold {stored:,}"
        )
    dtype_counts: dict[str, int] = {}
    for header in headers.values():
        for dtype, count in header.dtypes.items():
            dtype_counts[dtype] = dtype_counts.get(dtype, 0) + count
    report = {
        "architecture": (config.get("architectures") or [config["model_type"]])[0],
        "model_type": config["model_type"],
        "parameters": stored,
        "dtype": max(dtype_counts, key=lambda name: dtype_counts[name]) if dtype_counts else None,
        "dtypes": dtype_counts,  # parameters by dtype, as HF Hub's `safetensors.parameters`
        "context_length": config.get("n_positions") or config.get("max_position_embeddings"),
        "vocab_size": config.get("vocab_size"),
        "size_bytes": sum(os.path.getsize(directory / name) for name in files),
        "files": files,
    }
    if load:
        report.update(smoke_test(directory))
    return report
