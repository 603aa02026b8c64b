"""The checks of /v1/files uploads whose purpose is not training data (engine/datasets.py checks those): each is
JSON lines, checked whole at upload, its problems named by line. Plain Python.

    evals   one JSON object per line: an item of an eval's data source (OpenAI's `file_id` source; a line may wrap
            its item as {"item": {...}}, optionally with a "sample")
    batch   one request per line: {"custom_id": unique string, "method": "POST", "url": "/v1/chat/completions" or
            "/v1/completions", "body": {...}} (OpenAI's Batch API input)
"""

import json
from collections.abc import Callable

MAX_ERRORS = 20
BATCH_URLS = ("/v1/chat/completions", "/v1/completions")


def check_evals(data: bytes) -> tuple[int, list[str]]:
    """(lines, problems) of an evals file."""
    return _check(data, _eval_item)


def check_batch(data: bytes) -> tuple[int, list[str]]:
    """(requests, problems) of a batch input file; custom_id must be unique in the file."""
    seen: set[str] = set()

    def request(item: dict) -> None:
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise ValueError('"custom_id" must be a non-empty string')
        if custom_id in seen:
            raise ValueError(f'"custom_id" {custom_id!r} is used twice in the file')
        seen.add(custom_id)
        if item.get("method") != "POST":
            raise ValueError('"method" must be "POST"')
        if item.get("url") not in BATCH_URLS:
            raise ValueError(f'"url" must be one of {", ".join(BATCH_URLS)}')
        if not isinstance(item.get("body"), dict):
            raise ValueError('"body" must be an object (the request\'s JSON body)')

    return _check(data, request)


def _eval_item(item: dict) -> None:
    if "item" in item and not isinstance(item["item"], dict):
        raise ValueError('"item" must be an object')
    if not item:
        raise ValueError("the line is an empty object")


def _check(data: bytes, check_line: Callable[[dict], None]) -> tuple[int, list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return 0, [f"the file is not UTF-8 text (byte {exc.start} cannot be decoded)"]
    count, errors = 0, list[str]()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("each line must be a JSON object")
            check_line(item)
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON ({exc.msg} at column {exc.colno})"
        except RecursionError:
            problem = "not valid JSON (nested too deeply)"
        except ValueError as exc:
            problem = str(exc)
        else:
            count += 1
            continue
        if len(errors) < MAX_ERRORS:
            errors.append(f"line {number}: {problem}")
    if not count and not errors:
        errors.append("the file holds no lines")
    return count, errors
