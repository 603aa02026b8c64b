"""Xet's hashes (spec/hashing.md): 32-byte keyed BLAKE3 digests.

- a chunk's hash: BLAKE3 keyed with DATA_KEY over its bytes;
- a xorb's hash: the root of a Merkle tree over its chunks' (hash, size), each node the BLAKE3 keyed with
  INTERNAL_NODE_KEY of its children's "{hash} : {size}\\n" lines, the children of a node cut where a hash is 0
  modulo 4 (2 to 9 children: the reference's aggregated hashes);
- a file's hash: that root over the file's chunks, hashed again keyed with 32 zero bytes;
- a term's verification hash: BLAKE3 keyed with VERIFICATION_KEY over its chunks' raw hashes.
Hashes are written as text the reference's way: each 8-byte word as a little-endian 64-bit number in hex."""

import struct

from blake3 import blake3

DATA_KEY = bytes([102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228, 33, 16, 155,
                  235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41])  # fmt: skip
INTERNAL_NODE_KEY = bytes([1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230, 93, 221, 83,
                           111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63])  # fmt: skip
VERIFICATION_KEY = bytes([127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243, 164, 205, 38,
                          213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195])  # fmt: skip
ZERO_KEY = bytes(32)
BRANCHING = 4  # the tree's mean branching factor


def chunk_hash(data: bytes) -> bytes:
    return blake3(data, key=DATA_KEY).digest()


def to_hex(digest: bytes) -> str:
    """The reference's text form: each of the 4 words as a little-endian u64 in 16 hex digits."""
    return "".join(f"{word:016x}" for word in struct.unpack("<4Q", digest))


def from_hex(text: str) -> bytes:
    """The 32 bytes a hash's text names (ValueError when it is not 64 hex digits)."""
    if len(text) != 64:
        raise ValueError("a Xet hash is 64 hex digits")
    return struct.pack("<4Q", *(int(text[i : i + 16], 16) for i in range(0, 64, 16)))


def merkle_root(nodes: list[tuple[bytes, int]]) -> bytes:
    """The root of the aggregated tree over (hash, size) leaves; 32 zero bytes for none."""
    if not nodes:
        return bytes(32)
    level = list(nodes)
    while len(level) > 1:
        parents, start = [], 0
        while start < len(level):
            end = start + _next_cut(level[start:])
            parents.append(_node(level[start:end]))
            start = end
        level = parents
    return level[0][0]


def xorb_hash(chunk_hashes: list[tuple[bytes, int]]) -> bytes:
    return merkle_root(chunk_hashes)


def file_hash(chunk_hashes: list[tuple[bytes, int]]) -> bytes:
    if not chunk_hashes:
        return bytes(32)
    return blake3(merkle_root(chunk_hashes), key=ZERO_KEY).digest()


def verification_hash(chunk_hashes: list[bytes]) -> bytes:
    return blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


def _next_cut(nodes: list[tuple[bytes, int]]) -> int:
    if len(nodes) <= 2:
        return len(nodes)
    end = min(2 * BRANCHING + 1, len(nodes))
    for index in range(2, end):
        if struct.unpack_from("<Q", nodes[index][0], 24)[0] % BRANCHING == 0:  # the reference's hash % 4: word 3
            return index + 1
    return end


def _node(children: list[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{to_hex(digest)} : {size}\n" for digest, size in children)
    return blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(size for _, size in children)
