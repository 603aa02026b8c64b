"""Training files are checked whole: each bad line is named with its number and why, at most 20 of them."""

import json

from engine import datasets


def lines(*items) -> bytes:
    return "\n".join(item if isinstance(item, str) else json.dumps(item) for item in items).encode()


def test_the_three_jsonl_forms_and_plain_text_are_read():
    assert datasets.parse(lines({"text": "a"}, {"text": "b"})) == datasets.Parsed(
        "text", [{"text": "a"}, {"text": "b"}], []
    )
    pair = datasets.parse(lines({"prompt": "2+2=", "completion": "4"}))
    assert (pair.format, pair.records) == ("prompt_completion", [{"prompt": "2+2=", "completion": "4"}])
    chat = datasets.parse(lines({"messages": [{"role": "user", "content": "hi"},
                                              {"role": "assistant", "content": "no", "weight": 0},
                                              {"role": "assistant", "content": "hello"}]}))  # fmt: skip
    assert chat.format == "messages"
    assert [m["weight"] for m in chat.records[0]["messages"]] == [1, 0, 1]
    plain = datasets.parse(b"First paragraph.\n\nSecond one.\n")
    assert (plain.format, plain.records, plain.errors) == (
        "plain",
        [{"text": "First paragraph."}, {"text": "Second one."}],
        [],
    )


def test_each_bad_line_is_named_with_its_number_and_why():
    parsed = datasets.parse(lines(
        {"text": "fine"}, "{not json", ["a list"], {"prompt": "p"}, {"messages": [{"role": "robot", "content": "x"}]},
        {"messages": [{"role": "user", "content": "x", "weight": 0}]}, {"messages": [{"role": "user", "content": "x"}]},
        {"text": ""}, {"other": 1},
    ))  # fmt: skip
    assert parsed.errors == [
        "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 3: each line must be a JSON object",
        'line 4: "prompt" and "completion" must both be strings',
        "line 5: messages[0].role must be one of system, user, assistant, tool, developer",
        "line 6: messages[0].weight is only for assistant messages",
        "line 7: no assistant message to learn from (each has weight 0, or there is none)",
        'line 8: "text" must be a non-empty string',
        'line 9: expected "text", "prompt" and "completion", or "messages"',
    ]
    assert parsed.records == [{"text": "fine"}]


def test_at_most_twenty_errors_are_listed_and_forms_are_not_mixed():
    parsed = datasets.parse(lines(*[{"text": 1}] * 30))
    assert len(parsed.errors) == datasets.MAX_ERRORS
    assert parsed.errors[-1] == 'line 20: "text" must be a non-empty string'
    mixed = datasets.parse(lines({"text": "a"}, {"prompt": "p", "completion": "c"}))
    assert mixed.errors == ["line 2: a prompt_completion example in a file of text examples"]


def test_files_that_are_not_text_are_refused():
    assert datasets.parse(b"\xff\xfe\x00").errors == ["the file is not UTF-8 text (byte 0 cannot be decoded)"]
    assert datasets.parse(b"a\x00b").errors == ["the file holds a NUL character: it is not a text dataset"]
    assert datasets.parse(b"").errors == ["the file is empty"]
