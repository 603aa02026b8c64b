"""Xorbs (spec/xorb.md): a run of chunks, each an 8-byte header and its bytes stored raw, LZ4-framed, or byte-grouped
in fours then LZ4-framed. The store reads a client's xorb to check it (every header, every size, each chunk
decompressed and hashed, the hash of the whole recomputed) and later to rebuild files from chunk ranges."""

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import lz4.frame
import numpy as np

from core.exceptions import InvalidInput
from registry.xet import hashing
from registry.xet.chunking import MAX_CHUNK

HEADER = 8
MAX_RAW_BYTES = 64 * 1024 * 1024  # the spec's bound on a xorb: 64 MiB of chunks ...
MAX_XORB_BYTES = (
    MAX_RAW_BYTES + 1024 * 1024
)  # ... and, serialized, their headers and what LZ4 adds to incompressible data
MAX_CHUNKS = 8 * 1024
FOOTER_IDENT = b"XETBLOB"  # a client may append the reference's footer; the store keeps the chunks only
NONE, LZ4, BG4_LZ4 = 0, 1, 2


@dataclass(frozen=True)
class Layout:
    """Where each chunk of a stored xorb lies: its hash, its end in the serialized bytes and in the raw bytes."""

    hashes: list[bytes]
    serialized_ends: list[int]
    raw_ends: list[int]

    @property
    def raw_bytes(self) -> int:
        return self.raw_ends[-1] if self.raw_ends else 0

    @property
    def stored_bytes(self) -> int:
        return self.serialized_ends[-1] if self.serialized_ends else 0

    def serialized_range(self, start: int, end: int) -> tuple[int, int]:
        """The bytes [first, last) that hold chunks [start, end)."""
        return (self.serialized_ends[start - 1] if start else 0), self.serialized_ends[end - 1]

    def raw_sizes(self, start: int, end: int) -> list[int]:
        return [self.raw_ends[i] - (self.raw_ends[i - 1] if i else 0) for i in range(start, end)]

    def pack(self) -> tuple[bytes, bytes]:
        """The columns stored with the xorb's row: 32 bytes of hash, then 2 x u32 of ends, per chunk."""
        ends = b"".join(struct.pack("<II", s, r) for s, r in zip(self.serialized_ends, self.raw_ends, strict=True))
        return b"".join(self.hashes), ends

    @classmethod
    def unpack(cls, hashes: bytes, ends: bytes) -> "Layout":
        pairs = list(struct.iter_unpack("<II", bytes(ends)))
        hashes = bytes(hashes)
        return cls(
            hashes=[hashes[i : i + 32] for i in range(0, len(hashes), 32)],
            serialized_ends=[s for s, _ in pairs],
            raw_ends=[r for _, r in pairs],
        )


def parse(data: bytes, *, expected_hash: bytes) -> tuple[bytes, Layout]:
    """Check a serialized xorb and answer (the bytes to store, their layout). InvalidInput names the first fault:
    a bad header, a chunk that does not decompress to its stated size, or a hash other than `expected_hash`."""
    if len(data) > MAX_XORB_BYTES:
        raise InvalidInput(f"a xorb is at most {MAX_XORB_BYTES} bytes serialized; this one is {len(data)}")
    hashes: list[bytes] = []
    serialized_ends: list[int] = []
    raw_ends: list[int] = []
    position, raw = 0, 0
    while position < len(data):
        if data.startswith(FOOTER_IDENT, position) and hashes:
            break
        raw_chunk, position = read_chunk(data, position)
        raw += len(raw_chunk)
        if raw > MAX_RAW_BYTES:
            raise InvalidInput(f"a xorb holds at most {MAX_RAW_BYTES} bytes of chunks")
        hashes.append(hashing.chunk_hash(raw_chunk))
        serialized_ends.append(position)
        raw_ends.append(raw)
        if len(hashes) > MAX_CHUNKS:
            raise InvalidInput(f"a xorb holds at most {MAX_CHUNKS} chunks")
    if not hashes:
        raise InvalidInput("the xorb holds no chunks")
    computed = hashing.xorb_hash([(h, raw_ends[i] - (raw_ends[i - 1] if i else 0)) for i, h in enumerate(hashes)])
    if computed != expected_hash:
        raise InvalidInput(f"the xorb's chunks hash to {hashing.to_hex(computed)}, not {hashing.to_hex(expected_hash)}")
    layout = Layout(hashes=hashes, serialized_ends=serialized_ends, raw_ends=raw_ends)
    return data[:position], layout


def read_chunk(data: bytes | memoryview, position: int) -> tuple[bytes, int]:
    """The raw bytes of the chunk whose header starts at `position`, and where the next chunk starts."""
    if len(data) - position < HEADER:
        raise InvalidInput(f"the xorb ends inside a chunk header at byte {position}")
    scheme, compressed_size, raw_size = _header(bytes(data[position : position + HEADER]), position)
    start, end = position + HEADER, position + HEADER + compressed_size
    if end > len(data):
        raise InvalidInput(f"the xorb ends inside the chunk at byte {position}")
    return _decoded(bytes(data[start:end]), scheme, raw_size, position), end


def stream_chunks(handle, count: int) -> Iterator[bytes]:
    """The raw bytes of the next `count` chunks of a file positioned at a chunk header, one chunk in memory."""
    for _ in range(count):
        header = handle.read(HEADER)
        if len(header) < HEADER:
            raise InvalidInput("a stored xorb ends inside a chunk header")
        scheme, compressed_size, raw_size = _header(header, 0)
        yield _decoded(handle.read(compressed_size), scheme, raw_size, 0)


def _header(header: bytes, position: int) -> tuple[int, int, int]:
    """(compression scheme, compressed size, raw size) of a chunk header."""
    version, size_low, size_high, scheme, raw_low, raw_high = struct.unpack("<BHBBHB", header)
    compressed_size, raw_size = size_low | size_high << 16, raw_low | raw_high << 16
    if version != 0:
        raise InvalidInput(f"chunk header version {version} at byte {position}; only 0 is defined")
    if raw_size > MAX_CHUNK or compressed_size > MAX_CHUNK + 1024:
        raise InvalidInput(f"a chunk at byte {position} is over {MAX_CHUNK} bytes")
    return scheme, compressed_size, raw_size


def _decoded(body: bytes, scheme: int, raw_size: int, position: int) -> bytes:
    raw = _decompress(body, scheme, raw_size, position)
    if len(raw) != raw_size:
        raise InvalidInput(f"the chunk at byte {position} holds {len(raw)} bytes, its header says {raw_size}")
    return raw


def _decompress(body: bytes, scheme: int, raw_size: int, position: int) -> bytes:
    if scheme == NONE:
        return body
    if scheme not in (LZ4, BG4_LZ4):
        raise InvalidInput(f"unknown compression {scheme} for the chunk at byte {position}")
    try:
        grouped = lz4.frame.decompress(body)
    except (RuntimeError, ValueError) as exc:
        raise InvalidInput(f"the chunk at byte {position} is not a valid LZ4 frame ({exc})") from None
    if scheme == LZ4 or len(grouped) != raw_size:
        return grouped
    return _ungroup(grouped)


def _ungroup(grouped: bytes) -> bytes:
    """Undo byte grouping: the first group holds bytes 0, 4, 8 ..., the second 1, 5, 9 ..., and so on."""
    source = np.frombuffer(grouped, dtype=np.uint8)
    out = np.empty_like(source)
    size, offset = len(source), 0
    for lane in range(4):
        count = size // 4 + (1 if lane < size % 4 else 0)
        out[lane::4] = source[offset : offset + count]
        offset += count
    return out.tobytes()
