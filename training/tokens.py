"""Counting a dataset's tokens with the tokenizer of the model it will train, in the web process (the
`tokenizers` library only, no torch). The count prices the job's hold; the worker charges what it really trained,
never more than the hold."""

from tokenizers import Tokenizer

from registry.models import Commit
from registry.storage import open_blob


def count(commit: Commit | None, records: list[dict]) -> int:
    """Tokens of every record as the engine encodes it (one end-of-text token each), with the tokenizer.json of
    `commit`. Without one (or from scratch, commit None): UTF-8 bytes, which a byte-level tokenizer never exceeds."""
    texts = [_text(record) for record in records]
    entry = commit.files.filter(path="tokenizer.json").select_related("blob").first() if commit else None
    if entry is None:
        return sum(len(text.encode()) + 1 for text in texts)
    with open_blob(entry.blob) as handle:  # only this file: a checkout would also fetch the weights
        tokenizer = Tokenizer.from_str(handle.read().decode())
    return sum(len(encoding.ids) + 1 for encoding in tokenizer.encode_batch(texts, add_special_tokens=False))


def _text(record: dict) -> str:
    if "text" in record:
        return record["text"]
    if "prompt" in record:
        return record["prompt"] + record["completion"]
    return "".join(f"{message['role']}: {message['content']}\n" for message in record["messages"])
