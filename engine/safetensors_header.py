"""A strict validator for safetensors headers, stricter than the safetensors library.

Layout: 8-byte little-endian header length N, N bytes of JSON, then the tensor data. We require:
the header within bounds; a JSON object whose keys are unique; each tensor with a known dtype, a shape of
non-negative integers and [begin, end) offsets; spans contiguous from 0, non-overlapping, covering the
data to the end of the file; and dtype size × number of elements equal to each span."""

import json
import math
import struct
from dataclasses import dataclass
from typing import BinaryIO

from engine.errors import BadCheckpoint

MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class SafetensorsHeader:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    data_offset: int

    @property
    def parameter_count(self) -> int:
        return sum(t.numel for t in self.tensors.values())

    @property
    def dtypes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tensor in self.tensors.values():
            counts[tensor.dtype] = counts.get(tensor.dtype, 0) + tensor.numel
        return counts


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise BadCheckpoint(f"safetensors header repeats the key {key!r}")
        result[key] = value
    return result


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadCheckpoint(f"safetensors header: {what} must be a non-negative integer, got {value!r}")
    return value


def parse_header(raw: bytes, *, file_size: int) -> SafetensorsHeader:
    """Validate a header given its bytes (the 8-byte length prefix included, data not needed)."""
    if file_size < 8 or len(raw) < 8:
        raise BadCheckpoint("not a safetensors file: shorter than its 8-byte header length")
    (length,) = struct.unpack("<Q", raw[:8])
    if length < 2 or length > MAX_HEADER_BYTES:
        raise BadCheckpoint(f"safetensors header length {length} is out of bounds (2..{MAX_HEADER_BYTES})")
    if 8 + length > file_size:
        raise BadCheckpoint(f"safetensors header length {length} runs past the end of the file ({file_size} bytes)")
    if len(raw) < 8 + length:
        raise BadCheckpoint("safetensors header is truncated")
    text = raw[8 : 8 + length]
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadCheckpoint(f"safetensors header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise BadCheckpoint("safetensors header must be a JSON object")

    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise BadCheckpoint("safetensors __metadata__ must map names to strings")

    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise BadCheckpoint(f"tensor {name!r}: entry must have exactly dtype, shape and data_offsets")
        dtype = entry["dtype"]
        if dtype not in DTYPE_BITS:
            raise BadCheckpoint(f"tensor {name!r}: unknown dtype {dtype!r}")
        shape = entry["shape"]
        offsets = entry["data_offsets"]
        if not isinstance(shape, list) or len(shape) > 16:
            raise BadCheckpoint(f"tensor {name!r}: shape must be a list of at most 16 dimensions")
        if not isinstance(offsets, list) or len(offsets) != 2:
            raise BadCheckpoint(f"tensor {name!r}: data_offsets must be [begin, end]")
        dims = tuple(_int(d, f"tensor {name!r} dimension") for d in shape)
        begin, end = (_int(o, f"tensor {name!r} offset") for o in offsets)
        if end < begin:
            raise BadCheckpoint(f"tensor {name!r}: data_offsets end before they begin")
        bits = math.prod(dims) * DTYPE_BITS[dtype]
        if bits % 8 or bits // 8 != end - begin:
            raise BadCheckpoint(
                f"tensor {name!r}: {dtype} × {list(dims)} needs {bits / 8:g} bytes but its span is {end - begin}"
            )
        tensors[name] = TensorInfo(name=name, dtype=dtype, shape=dims, begin=begin, end=end)

    position = 0
    for tensor in sorted(tensors.values(), key=lambda t: (t.begin, t.end)):
        if tensor.begin != position:
            problem = "overlaps the previous tensor" if tensor.begin < position else "leaves a gap before it"
            raise BadCheckpoint(f"tensor {tensor.name!r}: data at {tensor.begin} {problem} (expected {position})")
        position = tensor.end
    data_size = file_size - 8 - length
    if position != data_size:
        raise BadCheckpoint(f"tensor data covers {position} bytes but the file holds {data_size} after the header")
    return SafetensorsHeader(tensors=tensors, metadata=metadata, data_offset=8 + length)


def read_header(handle: BinaryIO, *, file_size: int) -> SafetensorsHeader:
    """Read and validate the header of an open safetensors file without reading tensor data."""
    prefix = handle.read(8)
    if len(prefix) < 8:
        raise BadCheckpoint("not a safetensors file: shorter than its 8-byte header length")
    (length,) = struct.unpack("<Q", prefix)
    if length > MAX_HEADER_BYTES or 8 + length > file_size:
        return parse_header(prefix, file_size=file_size)  # raises with the precise reason
    return parse_header(prefix + handle.read(length), file_size=file_size)
