"""Xet's chunking and hashes (registry/xet/) compute what the reference does: the Merkle vectors of xet-core's own
tests, and for whole files the very hash that the reference client (hf_xet, installed with huggingface_hub) gives
the same bytes; an edit moves only the chunks around it."""

import os
import random

import hf_xet
import pytest

from registry.xet import chunking, hashing
from registry.xet.gear import TABLE


def ours(data: bytes) -> str:
    pieces = chunking.chunks(data)
    return hashing.to_hex(hashing.file_hash([(hashing.chunk_hash(piece), len(piece)) for piece in pieces]))


def reference(data: bytes, tmp_path) -> str:
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    return hf_xet.hash_files([str(path)])[0].hash


def test_the_gear_table_is_the_one_the_specification_names():
    assert len(TABLE) == 256
    assert (TABLE[0], TABLE[17], TABLE[128], TABLE[255]) == (0xB088D3A9E840F559, 0x00005082119EA468,
                                                             0xA315F5EBFB706D26, 0x63C7A906C1DD187B)  # fmt: skip


# (leaves, xorb hash, file hash with the zero salt): from xet-core's merklehash aggregated_hashes test_correctness
VECTORS = [
    ([("cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6", 100)],
     "cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6",
     "8e16257caa3fe079d484d872a8975264b2ff683b0d6db9028cc7c0f968a45661"),
    ([("cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6", 100),
      ("c3e67584b5c4fc2a89837ec39e40f2c8a6bb0b2987ac94cd4b31e5fbdd210a72", 200),
      ("0d2beb91b9196929a5ddec9f6e306924ddf4a24268e3e59fd8464738d525af37", 300)],
     "71ec1275fca074724e2dd666921b3277c7cee603e4d025bcab2d4050015be2bc",
     "54e55dccc6653c612bdb5576c5d3cb34bb31bc4e100248abccf4c908b3ef7715"),
    ([("cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6", 100)] * 4,
     "89f2ada89ff8c96763c6b25010e6dd76a4c05b1466207633ea559acf2093211b",
     "2cdba690d0e09563596e0cda626d43eb4c96ef1e994fe72d9b2f5a83cfcd36dd"),
    ([("cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6", 100),
      ("c3e67584b5c4fc2a89837ec39e40f2c8a6bb0b2987ac94cd4b31e5fbdd210a72", 200),
      ("cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6", 100),
      ("c3e67584b5c4fc2a89837ec39e40f2c8a6bb0b2987ac94cd4b31e5fbdd210a72", 200),
      ("0d2beb91b9196929a5ddec9f6e306924ddf4a24268e3e59fd8464738d525af37", 300),
      ("adf8773496a9b7319b2e50dc98093f344053b17d8ad37100b9c07d9805988784", 400)],
     "52c826f99507aa05d0b45e9837fa1709e0485425cfbcb1e80db3905cf98b3ee9",
     "91d21684db364c8883ab8209fa5eb2e781cf07f37e1fa43e731c30839afe422f"),
]  # fmt: skip


@pytest.mark.parametrize(("leaves", "xorb", "file"), VECTORS)
def test_the_merkle_hashes_match_the_reference_vectors(leaves, xorb, file):
    nodes = [(hashing.from_hex(digest), size) for digest, size in leaves]
    assert hashing.to_hex(hashing.xorb_hash(nodes)) == xorb
    assert hashing.to_hex(hashing.file_hash(nodes)) == file


def test_hex_is_the_reference_text_form():
    digest = bytes(range(32))
    assert hashing.to_hex(digest) == "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
    assert hashing.from_hex(hashing.to_hex(digest)) == digest


@pytest.mark.parametrize("size", [0, 1, 8191, 8192, 8193, 3 * 131072 + 5, 3_000_000])
def test_file_hashes_equal_the_reference_clients_on_random_bytes(size, tmp_path):
    data = random.Random(size).randbytes(size)
    assert ours(data) == reference(data, tmp_path)


def test_file_hashes_equal_the_reference_clients_on_text_and_on_runs_of_one_byte(tmp_path):
    from pydoc_data.topics import topics

    text = "\n".join(topics[key] for key in sorted(topics)).encode()  # ~0.5 MB of English: boundaries by content
    assert ours(text) == reference(text, tmp_path)
    zeros = bytes(1_000_000)  # no content to cut at: every chunk is cut at the largest size
    assert chunking.boundaries(zeros)[:3] == [131072, 262144, 393216]
    assert ours(zeros) == reference(zeros, tmp_path)


def test_an_edit_changes_only_the_chunks_around_it():
    data = bytearray(os.urandom(4_000_000))
    before = {hashing.chunk_hash(piece) for piece in chunking.chunks(bytes(data))}
    data[2_000_000] ^= 0xFF
    after = chunking.chunks(bytes(data))
    changed = [piece for piece in after if hashing.chunk_hash(piece) not in before]
    assert 1 <= len(changed) <= 2 and sum(len(piece) for piece in changed) <= 2 * chunking.MAX_CHUNK
    assert all(chunking.MIN_CHUNK <= len(piece) <= chunking.MAX_CHUNK for piece in after[:-1])
