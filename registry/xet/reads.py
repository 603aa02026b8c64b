"""What the CAS answers about stored data: the global dedupe query (a shard of the xorbs holding a chunk, their chunk
hashes keyed so that only a client holding a chunk can recognise it) and file reconstructions (which chunk ranges of
which xorbs make a file or a byte range of it, with signed URLs to fetch them)."""

import secrets
from dataclasses import dataclass

from django.core import signing

from core.exceptions import InvalidInput, NotFound
from registry.models import FileEntry, Model
from registry.ranges import parse_range
from registry.xet import hashing, shard, xorbs
from registry.xet.models import XetFile, Xorb
from registry.xet.xorb import Layout

DEDUPE_XORBS = 64  # xorbs described in one dedupe answer (4 GiB of chunks; ~3 MB of shard)
DEDUPE_FILES = 8  # files whose xorbs a hit also offers
DEDUPE_VALID_SECONDS = 7 * 24 * 3600
FETCH_SALT = "registry.xet.fetch"
FETCH_TTL_SECONDS = 3600


def dedupe(chunk_text: str) -> bytes | None:
    """The dedupe shard for a chunk, or None when no stored xorb holds it where the query looks. Beside the xorbs
    holding it, the answer offers the other xorbs of the files that use those (in file order): a client uploading
    such a file again finds all of it from its first chunk (the reference queries one chunk in ~64 MiB)."""
    hashing.from_hex(chunk_text)
    holding = list(Xorb.objects.filter(dedupe_chunks__hash=chunk_text).distinct()[:DEDUPE_XORBS])
    if not holding:
        xorbs.count("dedupe_misses")
        return None
    xorbs.count("dedupe_hits")
    order = [x.hash for x in holding]
    for terms in XetFile.objects.filter(xorbs__in=holding).distinct().values_list("terms", flat=True)[:DEDUPE_FILES]:
        order.extend(text for text, *_ in terms)
    order = list(dict.fromkeys(order))[:DEDUPE_XORBS]
    by_hash = {x.hash: x for x in Xorb.objects.filter(hash__in=order)}
    chosen = [by_hash[text] for text in order if text in by_hash]
    records = []
    for xorb in chosen:
        layout = xorbs.layout_of(xorb)
        sizes = layout.raw_sizes(0, len(layout.hashes))
        starts = [end - size for end, size in zip(layout.raw_ends, sizes, strict=True)]
        records.append(shard.XorbRecord(xorb=hashing.from_hex(xorb.hash), raw_bytes=layout.raw_bytes,
                                        stored_bytes=layout.stored_bytes,
                                        chunks=list(zip(layout.hashes, starts, sizes, strict=True))))  # fmt: skip
    return shard.dedupe_shard(records, key=secrets.token_bytes(32), valid_seconds=DEDUPE_VALID_SECONDS)


def readable_file(*, model: Model, file_text: str) -> XetFile:
    """A file registered through Xet that some commit of `model` holds; 404 for any other."""
    hashing.from_hex(file_text)
    found = XetFile.objects.filter(file_hash=file_text).select_related("blob").first()
    if found is None or not FileEntry.objects.filter(commit__model=model, blob=found.blob).exists():
        raise NotFound(f"no file {file_text} in {model.repo_id}")
    return found


@dataclass(frozen=True)
class Piece:
    """Chunks [start, end) of one xorb, and the bytes of the file they make."""

    xorb: Xorb
    layout: Layout
    start: int
    end: int

    @property
    def raw_bytes(self) -> int:
        return sum(self.layout.raw_sizes(self.start, self.end))


def pieces(found: XetFile, first: int, last: int) -> tuple[list[Piece], int]:
    """The chunk ranges that hold the file's bytes [first, last] (inclusive), and how many bytes of the first
    piece come before `first`."""
    records = {x.hash: x for x in Xorb.objects.filter(hash__in={term[0] for term in found.terms})}
    layouts = {text: xorbs.layout_of(record) for text, record in records.items()}
    chosen: list[Piece] = []
    offset, skip = 0, 0
    for text, start, end, _raw in found.terms:
        layout = layouts[text]
        keep: list[int] = []
        for index, size in zip(range(start, end), layout.raw_sizes(start, end), strict=True):
            if offset + size > first and offset <= last:
                if not chosen and not keep:
                    skip = first - offset
                keep.append(index)
            offset += size
        if keep:
            chosen.append(Piece(xorb=records[text], layout=layout, start=keep[0], end=keep[-1] + 1))
        if offset > last:
            break
    return chosen, skip


def byte_range(header: str | None, size: int) -> tuple[int, int]:
    """The inclusive range a `Range: bytes=a-b` header asks of a file of `size` bytes (all of it without one);
    InvalidInput for anything but one byte range, RangeNotSatisfiable past the end (registry/ranges.py parses)."""
    if not header:
        return 0, size - 1
    span = parse_range(header, size)
    if span is None:
        raise InvalidInput("Range must be one 'bytes=start-end'")
    if span == "unsatisfiable":
        raise RangeNotSatisfiable(f"the range {header.strip()!r} is past the file's {size} bytes")
    return span


class RangeNotSatisfiable(InvalidInput):
    status_code = 416


def fetch_token(*, xorb: Xorb, ranges: list[tuple[int, int]]) -> str:
    """A signed grant to read these inclusive byte ranges of one xorb, for FETCH_TTL_SECONDS."""
    return signing.dumps({"x": xorb.hash, "r": ranges}, salt=FETCH_SALT, compress=True)


def open_fetch(token: str) -> tuple[Xorb, list[tuple[int, int]]]:
    try:
        grant = signing.loads(token, salt=FETCH_SALT, max_age=FETCH_TTL_SECONDS)
    except signing.SignatureExpired:
        raise NotFound("this xorb URL has expired; ask for the reconstruction again") from None
    except signing.BadSignature:
        raise NotFound("this xorb URL is not valid") from None
    xorb = Xorb.objects.filter(hash=grant["x"]).first()
    if xorb is None:
        raise NotFound("this xorb is no longer stored")
    return xorb, [(int(a), int(b)) for a, b in grant["r"]]
