"""Shards (spec/shard.md): a 48-byte header, file records (each file's terms, their verification hashes, its sha256),
xorb records (each xorb's chunks), each section closed by a bookend, then an optional footer.

`parse` reads what a client uploads (no footer); `dedupe_shard` writes what the global dedupe query answers: the
xorb records of the xorbs holding a chunk, their chunk hashes keyed with a fresh HMAC key, with the lookup tables
and footer the reference client reads a shard through."""

import struct
import time
from dataclasses import dataclass

from blake3 import blake3

from core.exceptions import InvalidInput
from registry.xet.hashing import to_hex

TAG = bytes([72, 70, 82, 101, 112, 111, 77, 101, 116, 97, 68, 97, 116, 97, 0, 85, 105, 103, 69, 106, 123, 129, 87,
             131, 165, 189, 217, 92, 205, 209, 74, 169])  # fmt: skip
HEADER_VERSION, FOOTER_VERSION = 2, 1
ENTRY = 48
FOOTER = 200
BOOKEND = b"\xff" * 32 + b"\x00" * 16
WITH_VERIFICATION, WITH_METADATA = 1 << 31, 1 << 30
GLOBAL_DEDUP_FLAG = 1 << 31
MAX_SHARD_BYTES = 64 * 1024 * 1024
MAX_FILES = 10_000


@dataclass(frozen=True)
class Term:
    xorb: bytes
    raw_bytes: int
    start: int
    end: int
    verification: bytes | None


@dataclass(frozen=True)
class FileRecord:
    file_hash: bytes
    terms: list[Term]
    sha256: bytes | None


@dataclass(frozen=True)
class XorbRecord:
    xorb: bytes
    chunks: list[tuple[bytes, int, int]]  # (chunk hash, raw start, raw size)
    raw_bytes: int
    stored_bytes: int


@dataclass(frozen=True)
class Shard:
    files: list[FileRecord]
    xorbs: list[XorbRecord]


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def entry(self, what: str) -> bytes:
        if self.position + ENTRY > len(self.data):
            raise InvalidInput(f"the shard ends inside {what} at byte {self.position}")
        found = self.data[self.position : self.position + ENTRY]
        self.position += ENTRY
        return found


def parse(data: bytes) -> Shard:
    """The files and xorbs a serialized shard describes; InvalidInput for anything malformed."""
    if len(data) > MAX_SHARD_BYTES:
        raise InvalidInput(f"a shard is at most {MAX_SHARD_BYTES} bytes; this one is {len(data)}")
    reader = _Reader(data)
    tag, version, footer_size = struct.unpack("<32sQQ", reader.entry("the header"))
    if tag != TAG:
        raise InvalidInput("not a shard: the header tag is wrong")
    if version != HEADER_VERSION:
        raise InvalidInput(f"shard header version {version}; only {HEADER_VERSION} is supported")
    if footer_size not in (0, FOOTER):
        raise InvalidInput(f"a shard footer is {FOOTER} bytes or absent, not {footer_size}")
    files = _files(reader)
    xorbs = _xorbs(reader)
    if len(data) - reader.position != footer_size:
        raise InvalidInput(f"{len(data) - reader.position} bytes follow the shard's sections; expected {footer_size}")
    return Shard(files=files, xorbs=xorbs)


def _files(reader: _Reader) -> list[FileRecord]:
    files: list[FileRecord] = []
    while True:
        header = reader.entry("a file record")
        if header == BOOKEND:
            return files
        file_hash, flags, count = struct.unpack_from("<32sII", header)
        if count == 0:
            raise InvalidInput(f"file {_text(file_hash)} has no terms")
        if len(files) >= MAX_FILES:
            raise InvalidInput(f"a shard holds at most {MAX_FILES} files")
        terms = []
        for _ in range(count):
            xorb, _flags, raw_bytes, start, end = struct.unpack_from("<32sIIII", reader.entry("a term"))
            if end <= start:
                raise InvalidInput(f"file {_text(file_hash)}: an empty chunk range [{start}, {end})")
            terms.append((xorb, raw_bytes, start, end))
        checks: list[bytes | None] = [None] * count
        if flags & WITH_VERIFICATION:
            checks = [reader.entry("a verification entry")[:32] for _ in range(count)]
        sha256 = reader.entry("the file's sha256")[:32] if flags & WITH_METADATA else None
        files.append(FileRecord(file_hash=file_hash, sha256=sha256,
                                terms=[Term(*term, verification=check) for term, check in zip(terms, checks, strict=True)]))  # fmt: skip


def _xorbs(reader: _Reader) -> list[XorbRecord]:
    xorbs: list[XorbRecord] = []
    while True:
        header = reader.entry("a xorb record")
        if header == BOOKEND:
            return xorbs
        xorb, _flags, count, raw_bytes, stored_bytes = struct.unpack_from("<32sIIII", header)
        chunks = []
        for _ in range(count):
            chunk, start, size = struct.unpack_from("<32sII", reader.entry("a chunk entry"))
            chunks.append((chunk, start, size))
        xorbs.append(XorbRecord(xorb=xorb, chunks=chunks, raw_bytes=raw_bytes, stored_bytes=stored_bytes))


def hmac(chunk_hash: bytes, key: bytes) -> bytes:
    """The reference's keyed chunk hash: BLAKE3 keyed with `key` over the 32 bytes."""
    return blake3(chunk_hash, key=key).digest()


def dedupe_shard(xorbs: list[XorbRecord], *, key: bytes, valid_seconds: int) -> bytes:
    """A shard of xorb records only, chunk hashes keyed with `key`, laid out as the reference writes one."""
    ordered = sorted(xorbs, key=lambda x: struct.unpack("<4Q", x.xorb))
    body = bytearray(struct.pack("<32sQQ", TAG, HEADER_VERSION, FOOTER))
    file_info_offset = len(body)
    body += BOOKEND
    xorb_info_offset = len(body)
    xorb_lookup, chunk_lookup, index = [], [], 0
    for record in ordered:
        xorb_lookup.append((_word(record.xorb), index))
        body += struct.pack("<32sIIII", record.xorb, 0, len(record.chunks), record.raw_bytes, record.stored_bytes)
        for position, (chunk, start, size) in enumerate(record.chunks):
            keyed = hmac(chunk, key)
            body += struct.pack("<32sIIII", keyed, start, size, 0, 0)
            chunk_lookup.append((_word(keyed), index, position))
        index += 1 + len(record.chunks)
    body += BOOKEND
    file_lookup_offset = len(body)
    xorb_lookup_offset = len(body)
    for word, at in xorb_lookup:
        body += struct.pack("<QI", word, at)
    chunk_lookup_offset = len(body)
    for word, at, position in sorted(chunk_lookup):
        body += struct.pack("<QII", word, at, position)
    footer_offset = len(body)
    now = int(time.time())
    stored = sum(x.stored_bytes for x in ordered)
    raw = sum(x.raw_bytes for x in ordered)
    body += struct.pack("<9Q32sQQ6QQQQQ", FOOTER_VERSION, file_info_offset, xorb_info_offset, file_lookup_offset, 0,
                        xorb_lookup_offset, len(xorb_lookup), chunk_lookup_offset, len(chunk_lookup), key, now,
                        now + valid_seconds, 0, 0, 0, 0, 0, 0, stored, raw, raw, footer_offset)  # fmt: skip
    return bytes(body)


def _word(digest: bytes) -> int:
    return struct.unpack_from("<Q", digest)[0]


def _text(digest: bytes) -> str:
    return to_hex(digest)
