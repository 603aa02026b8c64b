"""Beam search outside the batch: transformers' best beams, cut short when the caller stops it."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from engine.beams import Beam, beam_search


def test_beams_are_transformers_best_and_a_stop_request_ends_the_search(tiny_checkpoint):
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    prompt_ids = tokenizer("def main():")["input_ids"]
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                             max_new_tokens=6, num_beams=3, num_return_sequences=3, do_sample=False,
                             early_stopping=True, pad_token_id=tokenizer.eos_token_id)  # fmt: skip

    beams = beam_search(model, prompt_ids, num_beams=3, num_return=3, max_tokens=6,
                        eos_token_id=tokenizer.eos_token_id)  # fmt: skip
    stopped = beam_search(model, prompt_ids, num_beams=3, num_return=1, max_tokens=6,
                          eos_token_id=tokenizer.eos_token_id, should_stop=lambda: True)  # fmt: skip

    assert beams == [Beam(row, ended_by_eos=False) for row in out[:, len(prompt_ids) :].tolist()]
    assert len(stopped) == 1 and len(stopped[0].token_ids) == 1  # asked to stop after the first step
