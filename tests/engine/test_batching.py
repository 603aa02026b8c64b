"""Continuous batching: sequences that join and leave the batch at any step compute exactly what they would
alone; seeds, penalties, stop tokens, cancellation and logprobs behave per sequence."""

import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from engine.batching import BatchEngine, Generation, SamplingParams

GREEDY = SamplingParams(max_tokens=10, temperature=0.0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=512, n_positions=64, n_embd=64, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


def prompts(*lengths, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(1, 512, (n,), generator=generator).tolist() for n in lengths]


def alone(model, prompt, max_tokens=10):
    with torch.no_grad():
        out = model.generate(
            torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=max_tokens, do_sample=False, pad_token_id=0, eos_token_id=None,
        )  # fmt: skip
    return out[0, len(prompt) :].tolist()


def run(engine, *generations, joins=None):
    """Drive the engine by hand: `joins` maps a step number to generations submitted before that step."""
    joins = joins or {}
    for generation in generations:
        engine.submit(generation)
    step = 0
    pending = [g for batch in joins.values() for g in batch]
    while any(not g.done.is_set() for g in [*generations, *pending]):
        for generation in joins.get(step, []):
            engine.submit(generation)
        engine.step()
        step += 1
        assert step < 200


def test_sequences_joining_and_leaving_match_generating_alone(model):
    engine = BatchEngine(model, max_batch=8)
    first, second, third, fourth = prompts(5, 9, 3, 12)
    a = Generation(first, GREEDY)
    b = Generation(second, SamplingParams(max_tokens=4, temperature=0.0))  # leaves early
    c = Generation(third, GREEDY)  # joins at step 2, while a and b run
    d = Generation(fourth, GREEDY)  # joins at step 6, after b left

    run(engine, a, b, joins={2: [c], 6: [d]})

    assert a.token_ids == alone(model, first)
    assert b.token_ids == alone(model, second, max_tokens=4)
    assert c.token_ids == alone(model, third)
    assert d.token_ids == alone(model, fourth)
    assert [g.finish_reason for g in (a, b, c, d)] == ["length"] * 4


def test_more_requests_than_slots_wait_their_turn(model):
    engine = BatchEngine(model, max_batch=2)
    generations = [Generation(p, SamplingParams(max_tokens=3, temperature=0.0)) for p in prompts(4, 6, 5, 7, 3)]

    run(engine, *generations)

    for generation, prompt in zip(generations, prompts(4, 6, 5, 7, 3), strict=True):
        assert generation.token_ids == alone(model, prompt, max_tokens=3)


def test_a_seed_gives_the_same_sample_whatever_shares_the_batch(model):
    sampled = SamplingParams(max_tokens=12, temperature=1.0, top_p=0.9, top_k=50, seed=42)
    prompt = prompts(6)[0]

    solo = Generation(prompt, sampled)
    run(BatchEngine(model), solo)
    crowded = Generation(prompt, sampled)
    run(
        BatchEngine(model),
        crowded,
        *[Generation(p, SamplingParams(max_tokens=12, temperature=1.0)) for p in prompts(3, 8, 5, seed=7)],
    )
    other_seed = Generation(prompt, dataclass_replace(sampled, seed=43))
    run(BatchEngine(model), other_seed)

    assert solo.token_ids == crowded.token_ids
    assert solo.token_ids != other_seed.token_ids


def dataclass_replace(params, **changes):
    import dataclasses

    return dataclasses.replace(params, **changes)


def test_stop_tokens_end_a_sequence(model):
    prompt = prompts(5)[0]
    expected = alone(model, prompt)
    stop_at = expected[3]
    generation = Generation(prompt, SamplingParams(max_tokens=10, temperature=0.0, stop_token_ids=(stop_at,)))

    run(BatchEngine(model), generation)

    assert generation.token_ids == expected[: expected.index(stop_at) + 1]
    assert generation.finish_reason == "stop"


def test_a_cancelled_sequence_stops_and_keeps_what_it_made(model):
    engine = BatchEngine(model)
    generation = engine.submit(Generation(prompts(5)[0], SamplingParams(max_tokens=50, temperature=0.0)))
    other = engine.submit(Generation(prompts(4)[0], SamplingParams(max_tokens=8, temperature=0.0)))
    for _ in range(3):
        engine.step()
    generation.cancel()
    while not (generation.done.is_set() and other.done.is_set()):
        engine.step()

    assert generation.finish_reason == "cancelled" and len(generation.token_ids) == 4
    assert other.token_ids == alone(model, prompts(4)[0], max_tokens=8)  # unaffected


def test_frequency_penalty_discourages_repeats(model):
    prompt = prompts(5)[0]
    plain = Generation(prompt, SamplingParams(max_tokens=20, temperature=0.0))
    penalised = Generation(
        prompt, SamplingParams(max_tokens=20, temperature=0.0, frequency_penalty=2.0, presence_penalty=2.0)
    )

    run(BatchEngine(model), plain, penalised)

    assert len(set(plain.token_ids)) < 20  # a random tiny model repeats itself
    assert len(set(penalised.token_ids)) > len(set(plain.token_ids))


def test_logprobs_are_the_models_and_sorted(model):
    generation = Generation(prompts(5)[0], SamplingParams(max_tokens=4, temperature=0.0, logprobs=3))

    run(BatchEngine(model), generation)

    for event in generation.tokens:
        assert len(event.top_logprobs) == 3
        assert [lp for _, lp in event.top_logprobs] == sorted((lp for _, lp in event.top_logprobs), reverse=True)
        assert event.top_logprobs[0] == (event.token_id, pytest.approx(event.logprob))  # greedy took the best
        assert event.logprob <= 0 and math.isfinite(event.logprob)


def test_prompt_plus_max_tokens_beyond_the_context_is_refused(model):
    with pytest.raises(ValueError, match="exceeds the model's context of 64 tokens"):
        BatchEngine(model).submit(Generation(prompts(60)[0], SamplingParams(max_tokens=5)))


@pytest.mark.parametrize(
    "bad",
    [
        {"max_tokens": 0},
        {"temperature": 2.5},
        {"top_p": 0.0},
        {"top_k": -1},
        {"frequency_penalty": 3},
        {"logprobs": 21},
        {"seed": -1},
        {"seed": 2**63},
        {"seed": 2**64},
    ],
)
def test_bad_sampling_parameters_are_refused(bad):
    with pytest.raises(ValueError, match=r"must be|cannot be"):
        SamplingParams(**bad)


def test_the_engine_thread_serves_concurrent_generations(model):
    engine = BatchEngine(model, max_batch=4).start()
    try:
        generations = [
            engine.submit(Generation(p, SamplingParams(max_tokens=6, temperature=0.0)))
            for p in prompts(3, 5, 7, 4, 6, 8)
        ]
        assert all(generation.wait(timeout=60) for generation in generations)
    finally:
        engine.stop()
    for generation, prompt in zip(generations, prompts(3, 5, 7, 4, 6, 8), strict=True):
        assert generation.token_ids == alone(model, prompt, max_tokens=6)


POISON = 511  # a token id the poisoning wrapper below turns into NaN logits


class PoisonedRows(torch.nn.Module):
    """The test model, except that a sequence whose prompt holds POISON gets NaN logits (as a broken row of a
    real batch would): the engine must fail that sequence alone."""

    def __init__(self, model):
        super().__init__()
        self.inner, self.config = model, model.config

    def forward(self, input_ids, **kwargs):
        output = self.inner(input_ids=input_ids, **kwargs)
        poisoned = (input_ids == POISON).any(dim=-1)
        output.logits[poisoned] = float("nan")
        return output


def test_a_sequence_with_nan_logits_fails_alone_and_the_batch_goes_on(model):
    engine = BatchEngine(PoisonedRows(model), max_batch=8)
    first, second = prompts(6, 9)
    healthy = Generation(first, GREEDY)
    sampled = Generation(second, SamplingParams(max_tokens=10, temperature=0.7, seed=3))
    reference = Generation(second, SamplingParams(max_tokens=10, temperature=0.7, seed=3))
    poisoned = Generation([5, POISON, 7], SamplingParams(max_tokens=10, temperature=0.7, seed=1))

    run(engine, healthy, sampled, poisoned)
    run(BatchEngine(model, max_batch=8), reference)

    assert (poisoned.finish_reason, poisoned.token_ids) == ("error", [])
    assert "NaN" in poisoned.error
    assert healthy.token_ids == alone(model, first) and healthy.finish_reason == "length"
    assert sampled.token_ids == reference.token_ids and sampled.finish_reason == "length"


def test_a_tiny_temperature_samples_the_greedy_token(model):
    """1e-45 overflowed every logit to inf before (softmax NaN, and the whole batch failed)."""
    engine = BatchEngine(model, max_batch=8)
    prompt = prompts(7)[0]
    tiny = Generation(prompt, SamplingParams(max_tokens=10, temperature=1e-45, seed=5))

    run(engine, tiny)

    assert (tiny.token_ids, tiny.finish_reason) == (alone(model, prompt), "length")
