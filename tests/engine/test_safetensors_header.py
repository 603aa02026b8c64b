"""Our strict safetensors header validator, including what the library itself lets through."""

import contextlib
import json
import struct

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as save_tensors

from engine.errors import BadCheckpoint
from engine.safetensors_header import parse_header


def encode(header: dict | str, data: bytes = b"") -> bytes:
    text = header if isinstance(header, str) else json.dumps(header)
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw + data


def test_a_file_written_by_the_library_parses_with_exact_counts():
    blob = save_tensors({"a": torch.zeros(3, 4), "b": torch.ones(5, dtype=torch.bfloat16)})

    header = parse_header(blob, file_size=len(blob))

    assert header.parameter_count == 17
    assert header.dtypes == {"F32": 12, "BF16": 5}
    assert header.tensors["a"].shape == (3, 4)


def test_duplicate_tensor_names_are_rejected_although_the_library_accepts_them():
    text = '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'

    with pytest.raises(BadCheckpoint, match="repeats the key 'w'"):
        parse_header(encode(text, b"\0" * 8), file_size=len(encode(text)) + 8)


@pytest.mark.parametrize(
    ("header", "data", "reason"),
    [
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "needs 8 bytes but its span is 4"),
        ({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "leaves a gap"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
            },
            b"\0" * 8,
            "overlaps",
        ),
        (
            {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
            b"\0" * 12,
            "covers 4 bytes but the file holds 12",
        ),
        ({"w": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "unknown dtype"),
        ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "non-negative integer"),
        ({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}}, b"\0" * 4, "exactly dtype"),
        ({"w": [1, 2]}, b"", "exactly dtype"),
        ({"__metadata__": {"k": 1}}, b"", "__metadata__"),
    ],
)
def test_malformed_headers_are_rejected_with_the_reason(header, data, reason):
    blob = encode(header, data)

    with pytest.raises(BadCheckpoint, match=reason):
        parse_header(blob, file_size=len(blob))


def test_header_length_past_the_end_of_file_is_rejected():
    blob = struct.pack("<Q", 1000) + b"{}"

    with pytest.raises(BadCheckpoint, match="runs past the end"):
        parse_header(blob, file_size=len(blob))


def test_truncated_file_is_rejected():
    blob = save_tensors({"a": torch.zeros(16)})

    with pytest.raises(BadCheckpoint, match="covers 64 bytes but the file holds 32"):
        parse_header(blob[:-32], file_size=len(blob) - 32)


def test_non_json_header_is_rejected():
    blob = encode("{not json")

    with pytest.raises(BadCheckpoint, match="not valid JSON"):
        parse_header(blob, file_size=len(blob))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_fuzz_random_bytes_only_ever_raise_bad_checkpoint(data):
    with contextlib.suppress(BadCheckpoint):
        parse_header(data, file_size=len(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=200))
def test_fuzz_mutations_of_a_valid_file_are_accepted_only_when_the_library_agrees(patch, position):
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    blob = bytearray(save_tensors({"a": torch.arange(6, dtype=torch.float32), "b": torch.zeros(2, 2)}))
    position = min(position, len(blob) - 1)
    blob[position : position + len(patch)] = patch
    blob = bytes(blob)
    try:
        header = parse_header(blob, file_size=len(blob))
    except BadCheckpoint:
        return
    # Differential check: whatever we accept, the reference library must load with the same tensors.
    try:
        tensors = load_tensors(blob)
    except SafetensorError as exc:
        pytest.fail(f"we accepted a file the library rejects: {exc}")
    assert {name: tuple(t.shape) for name, t in tensors.items()} == {n: t.shape for n, t in header.tensors.items()}
