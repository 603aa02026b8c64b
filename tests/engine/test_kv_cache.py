"""The in-place KV cache holds exactly what transformers' concatenating one holds, step after step, across its
reallocations and after the engine replaces its tensors; between reallocations a step copies nothing."""

import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.cache_utils import DynamicLayer

from engine.batching import BatchEngine, Generation, SamplingParams
from engine.kv_cache import ROOM, RoomyLayer


def states(batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 2, length, 4, generator=generator), torch.randn(batch, 2, length, 4, generator=generator)


def test_appending_matches_concatenating_across_reallocations_and_replacements():
    roomy, plain = RoomyLayer(), DynamicLayer()
    buffers = []  # kept, so that a freed buffer's address cannot come back as a new one's
    for step in range(2 * ROOM + 5):
        length = 7 if step == 0 else 1  # a prefill, then one position per decode step
        if step == ROOM // 2:  # the engine drops the first sequence, as _retire does
            for layer in (roomy, plain):
                layer.keys, layer.values = layer.keys[1:], layer.values[1:]
        batch = 3 if step < ROOM // 2 else 2
        keys, values = states(batch, length, seed=step)

        got, expected = roomy.update(keys, values), plain.update(keys, values)

        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
        if not any(buffer is roomy._key_buffer for buffer in buffers):
            buffers.append(roomy._key_buffer)
    # 133 steps, 3 buffers: at the prefill, after the replacement (step 32, 39 positions: room up to 103) and when
    # that room ran out (step 97)
    assert len(buffers) == 3


def test_long_generations_match_generate_token_for_token():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=256, n_positions=256, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    prompts = [[5, 9, 13], [7, 1, 2, 3, 4, 8, 21, 40, 3]]
    engine = BatchEngine(model, max_batch=4)
    generations = [Generation(p, SamplingParams(max_tokens=2 * ROOM + 10, temperature=0.0)) for p in prompts]
    for generation in generations:
        engine.submit(generation)

    while not all(generation.done.is_set() for generation in generations):
        engine.step()

    for prompt, generation in zip(prompts, generations, strict=True):
        with torch.no_grad():
            expected = model.generate(
                torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                max_new_tokens=2 * ROOM + 10, do_sample=False, pad_token_id=0, eos_token_id=None,
            )  # fmt: skip
        assert generation.token_ids == expected[0, len(prompt) :].tolist()
