"""Beam search for one call, outside the continuous batch: transformers' own `generate(num_beams=...)` on the
loaded model (the same weights the batch engine uses, no copy). A beam's tokens are only known when the search
ends, so its answer comes all at once; a stop request is honoured between steps."""

import dataclasses
from collections.abc import Callable, Sequence

import torch


@dataclasses.dataclass(frozen=True)
class Beam:
    token_ids: list[int]
    ended_by_eos: bool


def beam_search(
    model,
    prompt_ids: Sequence[int],
    *,
    num_beams: int,
    num_return: int,
    max_tokens: int,
    eos_token_id: int | None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Beam]:
    """The `num_return` best of `num_beams` beams (best first), each without the prompt and without padding.
    `should_stop` is asked between steps; when it says yes, the beams found so far are returned."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    if not 1 <= num_return <= num_beams:
        raise ValueError("num_return must be between 1 and num_beams")

    class _Stop(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):  # noqa: ARG002  (a LogitsProcessor's signature)
            return torch.full((input_ids.shape[0],), should_stop(), dtype=torch.bool, device=input_ids.device)

    device = next(model.parameters()).device
    prompt = torch.tensor([prompt_ids], device=device)
    pad = eos_token_id if eos_token_id is not None else 0
    with torch.inference_mode():
        out = model.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            num_beams=num_beams,
            num_return_sequences=num_return,
            max_new_tokens=max_tokens,
            do_sample=False,
            early_stopping=True,
            eos_token_id=eos_token_id,
            pad_token_id=pad,
            stopping_criteria=StoppingCriteriaList([_Stop()]),
        )
    beams = []
    for row in out[:, len(prompt_ids) :].tolist():
        if eos_token_id is not None and eos_token_id in row:
            beams.append(Beam(row[: row.index(eos_token_id) + 1], ended_by_eos=True))
        else:
            beams.append(Beam(row, ended_by_eos=False))
    return beams
