"""Xet's content-defined chunking (spec/chunking.md): a Gear rolling hash over the bytes, a boundary after a byte
whose hash has its 16 high bits clear, chunks of 8 KiB to 128 KiB (64 KiB on average). The same bytes always give
the same chunks, and an edit moves only the boundaries near it.

The hash at a byte depends on the 64 bytes before it only (each step shifts it left by one), and no boundary is
tested in a chunk's first 8 KiB, so the hash at every tested byte is that of its 64-byte window: computed here for
all bytes at once with numpy (64 shifted additions), not byte by byte in Python."""

import bisect

import numpy as np

from registry.xet.gear import TABLE

MIN_CHUNK = 8 * 1024
MAX_CHUNK = 128 * 1024
MASK = 0xFFFF_0000_0000_0000
WINDOW = 64
BLOCK = 4 * 1024 * 1024  # bytes hashed per numpy pass, so memory stays ~ 100 MB whatever the file's size

_TABLE = np.array(TABLE, dtype=np.uint64)


def boundaries(data: bytes | memoryview) -> list[int]:
    """The end offset of each chunk of `data` (the last is len(data)); [] for no bytes."""
    size = len(data)
    candidates = _matches(np.frombuffer(data, dtype=np.uint8))
    ends: list[int] = []
    start = 0
    while start < size:
        found = bisect.bisect_left(candidates, start + MIN_CHUNK - 1)  # a chunk of at least MIN_CHUNK bytes
        limit = start + MAX_CHUNK  # at most MAX_CHUNK bytes: cut there when no boundary comes first
        cut = candidates[found] + 1 if found < len(candidates) else limit
        end = min(cut, limit, size)
        ends.append(end)
        start = end
    return ends


def chunks(data: bytes) -> list[bytes]:
    start, found = 0, []
    for end in boundaries(data):
        found.append(data[start:end])
        start = end
    return found


def _matches(data: np.ndarray) -> list[int]:
    """The offsets whose 64-byte window's Gear hash has its MASK bits clear."""
    found: list[np.ndarray] = []
    for begin in range(0, len(data), BLOCK):
        lead = min(begin, WINDOW - 1)  # the window of the block's first bytes reaches into the previous block
        gears = _TABLE[data[begin - lead : begin + BLOCK]]
        hashes = gears.copy()
        for shift in range(1, WINDOW):
            hashes[shift:] += gears[:-shift] << np.uint64(shift)  # uint64 arithmetic wraps, as the spec's does
        hits = np.flatnonzero((hashes & np.uint64(MASK)) == 0)
        found.append(hits[hits >= lead] - lead + begin)
    return np.concatenate(found).tolist() if found else []
