"""Counting a dataset's tokens with the tokenizer of the model it will train, in the web process (the
`tokenizers` library only, no torch). The count prices the job's hold; the worker charges what it really trained,
never more than the hold."""

from tokenizers import Tokenizer

from registry.checkout import checkout
from registry.models import Commit


def count(commit: Commit, records: list[dict]) -> int:
    """Tokens of every record as the engine encodes it (one end-of-text token each); without a tokenizer.json,
    UTF-8 bytes, which a byte-level tokenizer never exceeds."""
    texts = [_text(record) for record in records]
    with checkout(commit) as directory:
        path = directory / "tokenizer.json"
        if not path.is_file():
            return sum(len(text.encode()) + 1 for text in texts)
        tokenizer = Tokenizer.from_file(str(path))
    return sum(len(encoding.ids) + 1 for encoding in tokenizer.encode_batch(texts, add_special_tokens=False))


def _text(record: dict) -> str:
    if "text" in record:
        return record["text"]
    if "prompt" in record:
        return record["prompt"] + record["completion"]
    return "".join(f"{message['role']}: {message['content']}\n" for message in record["messages"])
