"""JSON from a client, read without surprises: one place that turns every way a body can be bad into InvalidInput.

json.loads raises RecursionError (not ValueError) on a document nested ~1,000 deep, and accepts lone surrogates
("\\ud800") that cannot be encoded again as UTF-8; both used to end as 500s (issue #10)."""

import json
import math
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from core.exceptions import InvalidInput

# A surrogate can only reach a parsed string through a \uD800-\uDFFF escape (raw surrogate bytes are not UTF-8):
# only a body holding one is encoded again to look for a lone one, so ordinary bodies are parsed once.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf; no amount, limit or parameter is infinite
        raise ValueError(f"{text[:40]} is too large a number")
    return value


def loads(raw: bytes | str, *, what: str = "the body"):
    """Parse `raw` as JSON, or raise InvalidInput naming `what`. Python's json also takes NaN and Infinity, which
    JSON has not, and turns 1e400 into inf: all three are refused."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise InvalidInput(f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(raw.encode() if isinstance(raw, str) else raw):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                f"{what} holds a lone surrogate (an unpaired \\uD800-\\uDFFF escape): not valid text"
            ) from None
    return value


class SafeJSONParser(BaseParser):
    """DRF's JSON parsing through `loads`: deep nesting and lone surrogates answer 400 like any malformed body."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):  # noqa: ARG002  (DRF's signature)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:  # config.errors.bad_request answers it 413 in the API's shape
            raise RequestDataTooBig(f"the request body is over the limit of {limit} bytes")
        try:
            return loads(raw)
        except InvalidInput as exc:
            raise ParseError(f"JSON parse error - {exc.message}") from None


MAX_METADATA_PAIRS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512  # as OpenAI's `metadata` everywhere


def metadata(value, *, param: str = "metadata") -> dict:
    """OpenAI's `metadata`: at most 16 pairs of strings, keys up to 64 characters and values up to 512, none
    holding a NUL (PostgreSQL cannot store one); None is {}."""
    if value is None:
        return {}
    valid = isinstance(value, dict) and len(value) <= MAX_METADATA_PAIRS and all(
        isinstance(key, str) and isinstance(item, str) and len(key) <= MAX_METADATA_KEY
        and len(item) <= MAX_METADATA_VALUE and "\x00" not in key + item
        for key, item in value.items()
    )  # fmt: skip
    if not valid:
        raise InvalidInput(f"{param}: at most {MAX_METADATA_PAIRS} string keys ({MAX_METADATA_KEY} characters) and "
                           f"values ({MAX_METADATA_VALUE}), without NUL characters", param=param)  # fmt: skip
    return value


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a C0 control character or DEL: no name, id or path here may."""
    return any(ord(character) < 32 or character == "\x7f" for character in text)


MAX_MODEL_ID_CHARS = 300  # owner (150) + "/" + name (96) + "@" + a branch, tag or sha


def model_id(value, *, param: str = "model") -> str:
    """A model id as a caller sends it (`owner/name` or `owner/name@revision`): a non-empty string of at most
    MAX_MODEL_ID_CHARS without control characters, which no name or revision holds (NUL reached PostgreSQL)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"'{param}' is required: an id such as owner/name or owner/name@revision", param=param)
    if len(value) > MAX_MODEL_ID_CHARS or has_control_characters(value):
        raise InvalidInput(f"'{param}' must be an id such as owner/name, without control characters and at most "
                           f"{MAX_MODEL_ID_CHARS} characters", param=param)  # fmt: skip
    return value


def no_blank(params, names) -> None:
    """Query parameters an API takes may be left out, never sent blank: a web form leaves a field empty, an API
    client that sends `sort=` (or `tag=`, `after=`) has made a mistake it should hear of."""
    for name in names:
        if any(not value.strip() for value in params.getlist(name)):
            raise InvalidInput(f"{name} is blank: leave it out for its default", param=name)
