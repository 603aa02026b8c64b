"""Picking each next token for one sequence: penalties, temperature, top-k, top-p and its own seeded generator;
and the log-probabilities a generation asked for. Used by the batch engine once per step; no Django here."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # only for annotations: batching imports this module
    from engine.batching import Generation


def logprobs_of(logits: torch.Tensor, chosen: torch.Tensor, generations: list[Generation]) -> tuple[dict, dict]:
    """The chosen token's log-probability and the best alternatives, by row, for the rows that asked."""
    rows = [row for row, generation in enumerate(generations) if generation.params.logprobs is not None]
    if not rows:
        return {}, {}
    scored = torch.log_softmax(logits[rows], dim=-1)
    values = scored.gather(1, chosen[rows][:, None])[:, 0].tolist()
    tops = {}
    for position, row in enumerate(rows):
        wanted = generations[row].params.logprobs
        if wanted:
            best, indices = scored[position].topk(wanted)
            tops[row] = tuple(zip(indices.tolist(), best.tolist(), strict=True))
    return dict(zip(rows, values, strict=True)), tops


def is_penalised(generation: Generation) -> bool:
    return bool(generation.params.presence_penalty or generation.params.frequency_penalty)


def sample_one(logits: torch.Tensor, generation: Generation) -> torch.Tensor:
    """One token from one row of logits, with the generation's penalties, temperature, top-k, top-p and seed."""
    params = generation.params
    logits = logits.clone()
    if generation.counts and is_penalised(generation):
        ids = torch.tensor(list(generation.counts), device=logits.device)
        counts = torch.tensor(list(generation.counts.values()), dtype=logits.dtype, device=logits.device)
        logits[ids] -= params.frequency_penalty * counts + params.presence_penalty
    if params.is_greedy:
        return logits.argmax()
    # shift before dividing, in float64: the best token's logit becomes 0 and the others negative, so a tiny
    # temperature (any positive float, down to 5e-324) sends them towards -inf, a greedy pick, instead of
    # overflowing every logit to inf (or, in float32, dividing by a temperature that rounds to 0) and softmax to NaN
    logits = (logits.double() - logits.max()) / params.temperature
    if params.top_k and params.top_k < logits.shape[-1]:
        threshold = logits.topk(params.top_k).values[-1]
        logits[logits < threshold] = -math.inf
    probabilities = torch.softmax(logits, dim=-1)
    if params.top_p < 1.0:
        ordered, order = probabilities.sort(descending=True)
        beyond = ordered.cumsum(-1) - ordered > params.top_p  # keep the smallest set reaching top_p
        ordered[beyond] = 0.0
        probabilities = torch.zeros_like(probabilities).scatter(0, order, ordered)
    return torch.multinomial(probabilities.cpu(), 1, generator=generation.generator)[0].to(logits.device)
