"""JSON from a client, read without surprises: one place that turns every way a body can be bad into InvalidInput.

json.loads raises RecursionError (not ValueError) on a document nested ~1,000 deep, and accepts lone surrogates
("\\ud800") that cannot be encoded again as UTF-8; both used to end as 500s (issue #10)."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from marketplace.exceptions import InvalidInput


def loads(raw: bytes | str, *, what: str = "the body"):
    """Parse `raw` as JSON, or raise InvalidInput naming `what`."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise InvalidInput(f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
    check_encodable(value, what=what)
    return value


def check_encodable(value, *, what: str = "the body") -> None:
    """Refuse strings that cannot be written back as UTF-8 (lone surrogates from \\uD800-style escapes)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{what} holds a lone surrogate (an unpaired \\uD800-\\uDFFF escape): not valid text"
        ) from None
    except RecursionError:
        raise InvalidInput(f"{what} is nested too deeply") from None


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with deep nesting and lone surrogates answered 400 like any other malformed body."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
        try:
            check_encodable(data)
        except InvalidInput as exc:
            raise ParseError(f"JSON parse error - {exc.message}") from None
        return data
