"""The plain pretraining loop's options (engine/pretrain.py) that the demo recipe uses: windows taken once
each per pass over the corpus, and a warm-up, stable, decay schedule."""

import random

import pytest

from engine import pretrain


def test_epoch_sampling_takes_every_window_of_a_pass_once_then_starts_a_new_pass():
    windows = pretrain._windows(1000, 100, random.Random(4), "epoch")

    first = [next(windows) for _ in range(9)]
    second = [next(windows) for _ in range(9)]

    offset = min(first)
    assert offset < 100
    assert sorted(first) == list(range(offset, 899, 100))  # aligned, non-overlapping, each once
    assert sorted(second) == list(range(min(second), 899, 100))
    assert len(set(first)) == len(set(second)) == 9
    assert first != sorted(first)  # shuffled


def test_random_sampling_draws_anywhere_as_the_first_recipe_did():
    windows = pretrain._windows(1000, 100, random.Random(4), "random")
    reference = random.Random(4)

    assert [next(windows) for _ in range(50)] == [reference.randrange(0, 899) for _ in range(50)]


def test_the_wsd_schedule_warms_up_holds_then_decays_linearly_to_zero():
    factor = [pretrain._rate_factor(step, steps=1000, schedule="wsd") for step in range(1000)]

    assert factor[0] == pytest.approx(1 / 20)
    assert factor[19] == factor[100] == factor[599] == factor[600] == 1.0
    assert factor[800] == pytest.approx(0.5)
    assert factor[999] == pytest.approx(1 / 400)
    assert factor == sorted(factor[:600]) + sorted(factor[600:], reverse=True)


def test_the_cosine_schedule_is_the_first_recipes():
    assert pretrain._rate_factor(0, steps=1000, schedule="cosine") == pytest.approx(1 / 20)
    assert pretrain._rate_factor(500, steps=1000, schedule="cosine") == pytest.approx(0.5)


@pytest.mark.parametrize(("schedule", "sampling"), [("linear", "random"), ("cosine", "sequential")])
def test_an_unknown_schedule_or_sampling_is_refused(tiny_checkpoint, schedule, sampling):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}

    with pytest.raises(ValueError, match="unknown"):
        pretrain.pretrain(model, tokenizer, pretrain.pretrain_corpus_sample(10), steps=2, batch_size=2, seq_len=16,
                          schedule=schedule, sampling=sampling)  # fmt: skip

    assert all((before[name] == tensor).all() for name, tensor in model.state_dict().items())  # nothing trained
