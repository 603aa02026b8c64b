"""Training data: JSONL in three forms, or plain UTF-8 text, checked line by line. Plain Python (no torch, no
Django): the web checks an upload with it, and the train worker reads the same records.

    {"text": "..."}                                   trained on whole
    {"prompt": "...", "completion": "..."}            trained on the completion only
    {"messages": [{"role": ..., "content": ...}]}     trained on assistant messages; `"weight": 0` excludes one

A file that is not JSON lines at all is a plain-text corpus (for pretraining): its paragraphs are the examples.
"""

import dataclasses
import json

MAX_ERRORS = 20
ROLES = ("system", "user", "assistant", "tool", "developer")


@dataclasses.dataclass(frozen=True)
class Parsed:
    format: str  # "text", "prompt_completion", "messages" or "plain"
    records: list[dict]
    errors: list[str]  # at most MAX_ERRORS, each naming its line


def parse(data: bytes) -> Parsed:
    """Every record of a dataset, or the first MAX_ERRORS problems with their line numbers."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Parsed("plain", [], [f"the file is not UTF-8 text (byte {exc.start} cannot be decoded)"])
    if "\x00" in text:
        return Parsed("plain", [], ["the file holds a NUL character: it is not a text dataset"])
    lines = text.splitlines()
    if not any(line.strip().startswith("{") for line in lines[:5]):
        paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
        return Parsed("plain", [{"text": part} for part in paragraphs], [] if paragraphs else ["the file is empty"])
    records: list[dict] = []
    errors: list[str] = []
    formats: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record, kind = _record(line)
        except ValueError as exc:
            if len(errors) < MAX_ERRORS:
                errors.append(f"line {number}: {exc}")
            continue
        formats.add(kind)
        if len(formats) > 1 and len(errors) < MAX_ERRORS:
            errors.append(f"line {number}: a {kind} example in a file of {sorted(formats - {kind})[0]} examples")
            formats.discard(kind)
            continue
        records.append(record)
    if not records and not errors:
        errors.append("the file holds no examples")
    return Parsed(formats.pop() if formats else "text", records, errors)


def _record(line: str) -> tuple[dict, str]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:  # json.loads recurses once per level: ~1,000 levels of [ or {
        raise ValueError("not valid JSON (nested too deeply)") from None
    if not isinstance(item, dict):
        raise ValueError("each line must be a JSON object")
    if "messages" in item:
        return {"messages": _messages(item["messages"])}, "messages"
    if "prompt" in item or "completion" in item:
        prompt, completion = item.get("prompt"), item.get("completion")
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise ValueError('"prompt" and "completion" must both be strings')
        if not completion:
            raise ValueError('"completion" is empty: there is nothing to learn')
        return {"prompt": prompt, "completion": completion}, "prompt_completion"
    if "text" in item:
        if not isinstance(item["text"], str) or not item["text"].strip():
            raise ValueError('"text" must be a non-empty string')
        return {"text": item["text"]}, "text"
    raise ValueError('expected "text", "prompt" and "completion", or "messages"')


def _messages(messages) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise ValueError('"messages" must be a non-empty list')
    cleaned = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f"messages[{index}] must be an object")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ValueError(f"messages[{index}].role must be one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise ValueError(f"messages[{index}].content must be a string")
        weight = message.get("weight", 1)
        if weight not in (0, 1) or isinstance(weight, bool):
            raise ValueError(f"messages[{index}].weight must be 0 or 1")
        if weight == 0 and role != "assistant":
            raise ValueError(f"messages[{index}].weight is only for assistant messages")
        cleaned.append({"role": role, "content": content, "weight": weight})
    if not any(message["role"] == "assistant" and message["weight"] for message in cleaned):
        raise ValueError("no assistant message to learn from (each has weight 0, or there is none)")
    return cleaned
