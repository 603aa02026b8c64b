"""A provider's evals/ file is read with bounds: each broken line is named, by file and line, and fails that file
alone (tests/evaluation/test_evaluate_job.py shows the commit's other results stand)."""

import pytest

from engine import evalfiles
from engine.evalfiles import EvalFileError


@pytest.mark.parametrize(("data", "message"), [
    (b'{"text": "a"}\n{"text": \n', "evals/x.jsonl line 2: not JSON (Expecting value)"),
    (b'{"text": "a"}\n{"prompt": "p", "reference": "r"}\n',
     "evals/x.jsonl line 2: a generation row in a file of text rows: one form per file"),
    (b'{"question": "q"}\n', "evals/x.jsonl line 1: keys ['question'] match no form: {text}; {prompt, reference}; "
                             "{choices, label, prompt}; {tags, tokens}"),
    (b'[1, 2]\n', "evals/x.jsonl line 1: a line must be a JSON object"),
    (b'{"prompt": "p", "choices": ["a"], "label": 0}\n',
     "evals/x.jsonl line 1: choices must be a list of at least two non-empty strings"),
    (b'{"prompt": "p", "choices": ["a", "b"], "label": 2}\n',
     "evals/x.jsonl line 1: label must be the index of a choice or one of the choices"),
    (b'{"prompt": "p", "choices": ["a", "b"], "label": true}\n',
     "evals/x.jsonl line 1: label must be the index of a choice or one of the choices"),
    (b'{"tokens": ["a", "b"], "tags": ["O"]}\n', "evals/x.jsonl line 1: 2 tokens but 1 tags"),
    (b'{"tokens": ["a b"], "tags": ["O"]}\n',
     "evals/x.jsonl line 1: tokens must be a non-empty list of strings without whitespace"),
    (b'{"text": ""}\n', "evals/x.jsonl line 1: text must be a non-empty string"),
    (b"\n\n", "evals/x.jsonl: no rows"),
    (b"\xff\xfe", "evals/x.jsonl: not UTF-8"),
])  # fmt: skip
def test_a_broken_file_is_named_with_its_line(data, message):
    with pytest.raises(EvalFileError) as raised:
        evalfiles.parse("evals/x.jsonl", data)
    assert str(raised.value) == message


def test_each_form_is_recognised():
    assert evalfiles.parse("a", b'{"text": "t"}\n\n{"text": "u"}\n') == ("text", [{"text": "t"}, {"text": "u"}])
    assert evalfiles.parse("a", b'{"prompt": "p", "reference": "r"}')[0] == "generation"
    assert evalfiles.parse("a", b'{"prompt": "p", "choices": ["x", "y"], "label": "y"}')[0] == "choice"
    assert evalfiles.parse("a", b'{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}')[0] == "tagging"
    assert evalfiles.tagging_prompt(["EU", "rejects"]) == "Tag each token.\nTokens: EU rejects\nTags:"


def test_too_many_rows_are_refused():
    data = b'{"text": "t"}\n' * (evalfiles.MAX_ROWS + 1)
    with pytest.raises(EvalFileError, match=f"line {evalfiles.MAX_ROWS + 1}: more than {evalfiles.MAX_ROWS} rows"):
        evalfiles.parse("evals/big.jsonl", data)
