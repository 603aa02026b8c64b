"""int8 weight-only quantization with torchao (Int8WeightOnlyConfig: one int8 per weight and a float32 scale per
output row), saved as safetensors with the `quantization_config` (quant_method "torchao") that stock transformers
reads back into the same quantized tensors. docs/compression.md has why torchao, and why not int4 on a CPU.

Every nn.Linear is quantized but the output head, which shares the input embedding's weights; GPT-2 is first
rewritten with nn.Linear layers (convert.py). No Django here."""

import tempfile
from pathlib import Path

from engine.compress import convert

QUANT_LIBRARY = "torchao"
SCHEME = "int8 weight-only, per output row"


class NotQuantizable(ValueError):
    """The model cannot be quantized this way (already quantized, or an architecture option we cannot express)."""


def is_quantized(config: dict) -> bool:
    return bool(config.get("quantization_config"))


def quantize(source: Path, target: Path) -> dict:
    """Quantize the checkpoint in `source` into `target` (weights, config and tokenizer) and return what was done."""
    import torch
    from torchao.quantization import Int8WeightOnlyConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TorchAoConfig

    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, use_safetensors=True)
    if getattr(model.config, "quantization_config", None):
        raise NotQuantizable("the model is already quantized")
    converted_from = None
    if model.config.model_type == "gpt2":
        try:
            model = convert.gpt2_as_linear(model)
        except convert.NotConvertible as exc:
            raise NotQuantizable(str(exc)) from None
        converted_from = "gpt2"
    tokenizer = AutoTokenizer.from_pretrained(source)
    with tempfile.TemporaryDirectory(prefix="quantize-") as plain:
        model.save_pretrained(plain, safe_serialization=True)
        quantized = AutoModelForCausalLM.from_pretrained(
            plain, dtype=torch.float32, quantization_config=TorchAoConfig(quant_type=Int8WeightOnlyConfig())
        )
    names = [name for name, module in quantized.named_modules() if type(module.__dict__.get("_parameters", {}).get(
        "weight")).__name__ == "Int8Tensor"]  # fmt: skip
    if not names:
        raise NotQuantizable(f"no nn.Linear layer to quantize in this {model.config.model_type} model")
    target.mkdir(parents=True, exist_ok=True)
    quantized.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    return {"library": QUANT_LIBRARY, "scheme": SCHEME, "bits": 8, "quantized_layers": len(names),
            "converted_from": converted_from, "model_type": quantized.config.model_type}  # fmt: skip
