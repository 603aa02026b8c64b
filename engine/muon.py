"""Muon (momentum, then Newton-Schulz orthogonalisation of each 2-D update) that orthogonalises in the gradient's own
dtype. torch.optim.Muon casts every update to bfloat16 first, which on a CPU without native bf16 (AVX2, or AVX-512
without avx512_bf16, as on the CI machines) made a demo-sized training step 1.5x slower than AdamW (333 against
219 ms, Intel Xeon 2.0 GHz, 2 cores); in float32 it costs ~10 % more than AdamW. Everything else (arguments, their
checks, the momentum state and its state_dict) is torch's: this class only replaces the step.

GPT-2 stores its linear layers as transformers' Conv1D, weight (in, out), the transpose of nn.Linear's (out, in).
`fan_in_first=True` tells the learning-rate adjustment (Keller Jordan's sqrt(max(1, out / in))) which side is which."""

import math

import torch
from torch.optim import Muon as TorchMuon


def orthogonalise(update: torch.Tensor, coefficients: tuple[float, float, float], steps: int, eps: float):
    """The quintic Newton-Schulz iteration of torch.optim.Muon (and of Keller Jordan's reference), in `update`'s
    dtype: an approximation of U V^T for update = U S V^T. `update` is one matrix, or a stack of matrices of one
    shape (orthogonalised each on its own, in one batched product: ~1.6x faster than one by one here)."""
    a, b, c = coefficients
    tall = update.size(-2) > update.size(-1)
    x = update.mT if tall else update
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if tall else x


class Muon(TorchMuon):
    def __init__(self, params, *, fan_in_first: bool = False, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.fan_in_first = fan_in_first

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum = float(group["lr"]), group["momentum"]
            by_shape: dict[torch.Size, list[tuple[torch.Tensor, torch.Tensor]]] = {}
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(param.grad)
                buffer = state["momentum_buffer"]
                buffer.lerp_(param.grad, 1 - momentum)
                update = param.grad.lerp(buffer, momentum) if group["nesterov"] else buffer
                by_shape.setdefault(param.shape, []).append((param, update))
            for shape, pairs in by_shape.items():
                updates = orthogonalise(torch.stack([update for _, update in pairs]), group["ns_coefficients"],
                                        group["ns_steps"], group["eps"])  # fmt: skip
                step_size = lr * self._scale(shape, group["adjust_lr_fn"])
                for (param, _), update in zip(pairs, updates, strict=True):
                    param.mul_(1 - lr * group["weight_decay"])
                    param.add_(update, alpha=-step_size)
        return loss

    def _scale(self, shape: torch.Size, rule: str | None) -> float:
        fan_in, fan_out = (shape[0], shape[1]) if self.fan_in_first else (shape[1], shape[0])
        if rule == "match_rms_adamw":
            return 0.2 * math.sqrt(max(fan_in, fan_out))
        return math.sqrt(max(1.0, fan_out / fan_in))
