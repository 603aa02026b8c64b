"""Xorbs and shards written by hand, as spec/xorb.md and spec/shard.md lay them out, for the CAS's hostile cases."""

import hashlib
import struct
from dataclasses import dataclass

import lz4.frame

from registry.xet import chunking, hashing, shard


def chunk_record(data: bytes, scheme: int = 0) -> bytes:
    body = data if scheme == 0 else lz4.frame.compress(data)
    header = struct.pack("<BHBBHB", 0, len(body) & 0xFFFF, len(body) >> 16, scheme, len(data) & 0xFFFF, len(data) >> 16)
    return header + body


@dataclass
class Upload:
    """One file of `data`, chunked as the reference chunks it, in one xorb; the shard that registers it."""

    data: bytes
    chunks: list[bytes]
    xorb_hash: str
    xorb: bytes

    @classmethod
    def of(cls, data: bytes, scheme: int = 1) -> "Upload":
        chunks = chunking.chunks(data)
        digest = hashing.xorb_hash([(hashing.chunk_hash(c), len(c)) for c in chunks])
        return cls(data=data, chunks=chunks, xorb_hash=hashing.to_hex(digest),
                   xorb=b"".join(chunk_record(c, scheme) for c in chunks))  # fmt: skip

    @property
    def file_hash(self) -> str:
        return hashing.to_hex(hashing.file_hash([(hashing.chunk_hash(c), len(c)) for c in self.chunks]))

    def shard(self, *, sha256: str | None = None, verification: bytes | None = None, xorb_hash: str | None = None,
              end: int | None = None) -> bytes:  # fmt: skip
        """The shard a client uploads for this file (no footer), with any field replaced to make it wrong."""
        end = len(self.chunks) if end is None else end
        xorb = hashing.from_hex(xorb_hash or self.xorb_hash)
        hashes = [hashing.chunk_hash(c) for c in self.chunks]
        check = verification or hashing.verification_hash(hashes[:end])
        sha = hashing.from_hex(sha256 or hashlib.sha256(self.data).hexdigest())
        body = struct.pack("<32sQQ", shard.TAG, shard.HEADER_VERSION, 0)
        body += struct.pack(
            "<32sII8x", hashing.from_hex(self.file_hash), shard.WITH_VERIFICATION | shard.WITH_METADATA, 1
        )
        body += struct.pack("<32sIIII", xorb, 0, sum(len(c) for c in self.chunks[:end]), 0, end)
        body += struct.pack("<32s16x", check) + struct.pack("<32s16x", sha)
        body += shard.BOOKEND
        body += struct.pack("<32sIIII", xorb, 0, len(self.chunks), len(self.data), len(self.xorb))
        offset = 0
        for piece, digest in zip(self.chunks, hashes, strict=True):
            body += struct.pack("<32sII8x", digest, offset, len(piece))
            offset += len(piece)
        return body + shard.BOOKEND
