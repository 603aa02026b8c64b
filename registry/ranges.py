"""HTTP byte ranges (RFC 9110), one home for /resolve and the Xet CAS's reconstructions."""

import re

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")  # [0-9]: \d also takes other scripts' digits


def parse_range(header: str, size: int):
    """(start, end) inclusive for one 'bytes=a-b' range; None to ignore the header; 'unsatisfiable'."""
    match = _RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # not a single byte range: RFC 9110 lets us answer with the whole file
    first, last = match.groups()
    if first == "":
        length = _offset(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = _offset(first)
    end = min(_offset(last), size - 1) if last else size - 1
    if start >= size or (last and _offset(last) < start):
        return "unsatisfiable"
    return start, end


def _offset(digits: str) -> int:
    """A byte position; any with more than 18 digits is past every file (and int() refuses 4,300 digits)."""
    return int(digits) if len(digits) <= 18 else 2**62
