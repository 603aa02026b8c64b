"""bits_per_byte, the score the demo recipe is measured by and the evaluations will reuse, on a model whose answer
is known: a GPT-2 with every weight zero predicts the uniform distribution, log2(vocabulary) bits per token."""

import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from engine.scoring import bits_per_byte

VOCAB = 256


def uniform_model() -> GPT2LMHeadModel:
    model = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=16, n_layer=1, n_head=2))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    return model.eval()


def byte_tokenizer(text: str, verbose: bool = False) -> dict:
    return {"input_ids": list(text.encode())}


@pytest.mark.parametrize("seq_len", [4, 7, 64])
def test_a_uniform_model_scores_log2_of_its_vocabulary_per_predicted_token(seq_len):
    texts = ["hello world", "héllo"]  # 11 and 6 UTF-8 bytes: 10 and 5 predicted tokens, whatever the windows
    predicted, total_bytes = 10 + 5, 11 + 6

    score = bits_per_byte(uniform_model(), byte_tokenizer, texts, seq_len=seq_len)

    assert score == pytest.approx(predicted * math.log2(VOCAB) / total_bytes, rel=1e-6)  # 7.0588...


def test_nothing_to_score_is_zero_not_a_division_by_zero():
    assert bits_per_byte(uniform_model(), byte_tokenizer, ["x", ""], seq_len=8) == 0.0
