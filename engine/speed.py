"""Speed and footprint of a checkpoint on this worker's device, as the verified evaluation reports them: load
time, peak memory, weight bytes on disk, parameters, and greedy tokens per second at batch 1 and batch 8 (64 new
tokens each, after one warm-up). No Django here."""

import contextlib
import time
from pathlib import Path

NEW_TOKENS = 64
BATCHES = (1, 8)
PROMPT = "The"


def device_name(device) -> str:
    """The device in words: the GPU's name, or the CPU's model name and the threads torch uses."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {model or 'unknown'}, {torch.get_num_threads()} threads"


def pick_device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _rss(field: str) -> int:
    """VmRSS or VmHWM of this process in bytes (Linux), 0 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from VmRSS


def load(directory: Path, device) -> tuple[object, object, dict]:
    """The model and tokenizer from a checked-out directory, with the load's time and memory."""
    import torch
    import transformers

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _reset_peak()
    before = _rss("VmRSS")
    started = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(directory).to(device).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    seconds = time.perf_counter() - started
    weights = sum(path.stat().st_size for path in directory.glob("*.safetensors"))
    return model, tokenizer, {"load_seconds": seconds, "weight_bytes": weights,
                              "parameters": sum(p.numel() for p in model.parameters()), "_rss_before": before}  # fmt: skip


def throughput(model, tokenizer, *, footprint: dict) -> dict:
    """Greedy tokens per second at each batch size, and the peak memory since `load` (GPU: allocated; CPU: the
    process's peak resident memory above what it held before the load)."""
    import torch

    device = next(model.parameters()).device
    prompt = tokenizer(PROMPT, add_special_tokens=False)["input_ids"] or [tokenizer.eos_token_id]
    figures = {}
    for batch in BATCHES:
        ids = torch.tensor([prompt] * batch, device=device)
        for _attempt in range(2):  # the first is a warm-up
            started = time.perf_counter()
            with torch.inference_mode():
                model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS,
                               min_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.eos_token_id)  # fmt: skip
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - started
        figures[f"tokens_per_second_b{batch}"] = batch * NEW_TOKENS / seconds
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = max(0, _rss("VmHWM") - footprint["_rss_before"])
    return (
        {key: value for key, value in footprint.items() if not key.startswith("_")}
        | figures
        | {"peak_memory_bytes": peak}
    )
