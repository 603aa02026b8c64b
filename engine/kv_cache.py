"""A KV cache that appends a decode step's keys and values in place.

transformers' DynamicLayer appends with `torch.cat`: every decode step copies the whole cache of every layer, which
for a batch of 32 on a GPT-2-small-sized model is ~10% of the step on the CPU. RoomyLayer keeps its keys and values
as views of larger buffers with room for ROOM more positions, so a step writes only its own position; the buffers
are copied once per ROOM steps, or when the engine replaces the tensors (merging new sequences in, dropping
finished ones), which it does by assigning `keys` and `values` as with a DynamicLayer. The attention sees the same
numbers, so the output is identical (tests/engine/test_batching.py compares with `generate`). No Django here."""

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

ROOM = 64  # positions of spare room per reallocation


class RoomyLayer(DynamicLayer):
    """A DynamicLayer whose `update` writes into spare room instead of concatenating (see the module)."""

    _key_buffer: torch.Tensor | None = None
    _value_buffer: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        length = self.keys.shape[-2] if self.keys.dim() == 4 else 0
        end = length + key_states.shape[-2]
        if not self._has_room_for(key_states, end):
            shape = (*key_states.shape[:2], end + ROOM, key_states.shape[-1])
            self._key_buffer = torch.empty(shape, dtype=key_states.dtype, device=key_states.device)
            self._value_buffer = torch.empty(shape, dtype=value_states.dtype, device=value_states.device)
            if length:
                self._key_buffer[:, :, :length] = self.keys
                self._value_buffer[:, :, :length] = self.values
        self._key_buffer[:, :, length:end] = key_states
        self._value_buffer[:, :, length:end] = value_states
        self.keys, self.values = self._key_buffer[:, :, :end], self._value_buffer[:, :, :end]
        return self.keys, self.values

    def _has_room_for(self, key_states: torch.Tensor, end: int) -> bool:
        """Whether `keys` still is the start of the buffer (not replaced by the engine) with room up to `end`."""
        buffer = self._key_buffer
        if buffer is None or end > buffer.shape[-2] or buffer.shape[:2] != key_states.shape[:2]:
            return False
        if self.keys.dim() != 4:
            return True
        return self.keys.data_ptr() == buffer.data_ptr() and self.keys.stride() == buffer.stride()


class RoomyCache(DynamicCache):
    """A DynamicCache made of RoomyLayers."""

    def __init__(self):
        super().__init__()
        self.layer_class_to_replicate = RoomyLayer
