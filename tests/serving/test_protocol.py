"""The entries of a call's stream: what the worker writes is what the gateway reads back, through Redis's strings."""

import pytest

from serving.protocol import Done, Failure, Start, Token, decode


@pytest.mark.parametrize(
    "entry",
    [
        Start("host:123"),
        Token(2, "héllo", 17, -0.25, Token.encode_top([(17, -0.25), (5, -1.5)])),
        Token(0, "held back"),
        Done(("stop", "length", "error"), 12, 7, "ValueError: boom"),
        Done(("cancelled",), 3, 0),
        Failure("OSError: no such model"),
    ],
    ids=["start", "token", "held-back-text", "done", "cancelled", "failure"],
)
def test_an_entry_reads_back_as_it_was_written(entry):
    as_redis_returns_it = {name: str(value) for name, value in entry.fields().items()}

    assert decode(as_redis_returns_it) == entry


def test_a_tokens_alternatives_are_decoded_only_when_asked_for():
    entry = Token(0, "a", 3, -0.5, Token.encode_top([(3, -0.5), (9, -2.123456789)]))

    assert entry.is_token and not Token(0, "tail").is_token
    assert entry.top_logprobs == [(3, -0.5), (9, -2.123457)]
