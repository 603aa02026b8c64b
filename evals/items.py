"""A run's data rows: from a `/v1/files` upload with purpose `evals` (checked line by line at upload) or given inline
as `file_content`; each row is `{"item": {...}}` (or the item itself)."""

import json

from django.conf import settings

from accounts.models import User
from core.exceptions import InvalidInput, NotFound
from evals.graders import render
from files import services as files
from files.models import FilePurpose


def read(source, *, user: User) -> list[dict]:
    param = "data_source.source"
    if not isinstance(source, dict) or source.get("type") not in ("file_id", "file_content"):
        raise InvalidInput(f"{param}.type must be 'file_id' or 'file_content'", param=f"{param}.type")
    if source["type"] == "file_id":
        try:
            found = files.input_file(user=user, file_id=str(source.get("id")), purpose=FilePurpose.EVALS,
                                     param=f"{param}.id", use="an eval run")  # fmt: skip
        except NotFound:
            raise InvalidInput(f"{param}.id: no such file {source.get('id')!r}", param=f"{param}.id") from None
        lines: list = [json.loads(line) for line in files.read_bytes(found).decode().splitlines() if line.strip()]
    else:
        content = source.get("content")
        if not isinstance(content, list):
            raise InvalidInput(f"{param}.content must be a list of {{'item': {{...}}}}", param=f"{param}.content")
        lines = content
    if not 1 <= len(lines) <= settings.EVAL_MAX_ITEMS:
        raise InvalidInput(f"a run takes 1 to {settings.EVAL_MAX_ITEMS} rows, not {len(lines)}", param=param)
    items = []
    for number, line in enumerate(lines):
        item = line.get("item", line) if isinstance(line, dict) else None
        if not isinstance(item, dict):
            raise InvalidInput(f"{param} row {number}: each row must be an object or {{'item': {{...}}}}", param=param)
        items.append(item)
    return items


def messages(template: list[dict], item: dict) -> list[dict]:
    return [{"role": message["role"], "content": render(message["content"], item=item)} for message in template]


def prompt_bound(template: list[dict], item: dict) -> int:
    """An upper bound of the row's prompt tokens, as the gateway bounds a chat before it tokenizes: its UTF-8 bytes
    plus an allowance per message."""
    rendered = messages(template, item)
    return sum(len(message["content"].encode()) + 64 for message in rendered) + 64
