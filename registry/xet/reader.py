"""A file uploaded through Xet, read from its xorbs: the store keeps such a file once, as chunks, and reads it back
(for /resolve, with ranges, and for checkouts) through this seekable reader instead of a second copy as a blob."""

import bisect
import io

from django.core.files import File
from django.core.files.storage import default_storage

from registry.xet import xorb, xorbs
from registry.xet.models import XetFile, Xorb


class XetReader(io.RawIOBase):
    """The bytes of a registered file, chunk by chunk from storage; one decompressed chunk is held at a time."""

    def __init__(self, found: XetFile):
        super().__init__()
        records = {x.hash: x for x in Xorb.objects.filter(hash__in={term[0] for term in found.terms})}
        self._xorbs = records
        self._layouts = {text: xorbs.layout_of(record) for text, record in records.items()}
        self._starts: list[int] = []
        self._where: list[tuple[str, int]] = []
        offset = 0
        for text, start, end, _raw in found.terms:
            for index, size in zip(range(start, end), self._layouts[text].raw_sizes(start, end), strict=True):
                self._starts.append(offset)
                self._where.append((text, index))
                offset += size
        self._size = offset
        self._position = 0
        self._handles: dict[str, File] = {}
        self._held: tuple[int, bytes] = (-1, b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer) -> int:
        if self._position >= self._size:
            return 0
        piece = bisect.bisect_right(self._starts, self._position) - 1
        raw = self._chunk(piece)
        inside = self._position - self._starts[piece]
        count = min(len(buffer), len(raw) - inside)
        buffer[:count] = raw[inside : inside + count]
        self._position += count
        return count

    def _chunk(self, piece: int) -> bytes:
        if self._held[0] != piece:
            text, index = self._where[piece]
            handle = self._handles.get(text)
            if handle is None:
                handle = self._handles[text] = default_storage.open(self._xorbs[text].storage_key, "rb")
            handle.seek(self._layouts[text].serialized_range(index, index + 1)[0])
            self._held = (piece, next(xorb.stream_chunks(handle, 1)))
        return self._held[1]

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
        super().close()


def open_file(found: XetFile) -> io.BufferedReader:
    return io.BufferedReader(XetReader(found), buffer_size=1024 * 1024)
