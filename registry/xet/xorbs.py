"""Xorbs in the store: received and checked (xorb.parse), kept in storage under their hash, read back by chunk range,
counted, and indexed for the global dedupe query."""

import struct
from collections.abc import Iterator

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts import services as accounts
from accounts.models import User
from registry.xet import hashing, xorb
from registry.xet.models import XetChunk, XetCounter, Xorb

DEDUPE_MODULUS = 1024  # spec/deduplication.md: a chunk whose hash's last word is 0 modulo 1024 is eligible


def count(name: str, amount: int = 1) -> None:
    """Add to one of the CAS's running totals (XetCounter)."""
    updated = XetCounter.objects.filter(name=name).update(value=F("value") + amount)
    if not updated:
        try:
            with transaction.atomic():
                XetCounter.objects.create(name=name, value=amount)
        except IntegrityError:
            XetCounter.objects.filter(name=name).update(value=F("value") + amount)


def counters() -> dict[str, int]:
    return dict(XetCounter.objects.values_list("name", "value"))


def is_eligible(chunk_hash: bytes) -> bool:
    return struct.unpack_from("<Q", chunk_hash, 24)[0] % DEDUPE_MODULUS == 0


def store(*, user: User, hash_text: str, data: bytes) -> bool:
    """Check a xorb against its hash and keep it; False when the store already had it (nothing is stored then).
    The uploader's quota is charged for the bytes kept."""
    expected = hashing.from_hex(hash_text)
    count("xorb_bytes_received", len(data))
    if Xorb.objects.filter(hash=hash_text).exists():
        return False
    kept, layout = xorb.parse(data, expected_hash=expected)
    hashes, ends = layout.pack()
    with transaction.atomic():
        accounts.reserve_storage(user_id=user.pk, size=len(kept))
        try:
            with transaction.atomic():
                record = Xorb.objects.create(hash=hash_text, stored_bytes=len(kept), raw_bytes=layout.raw_bytes,
                                             chunk_hashes=hashes, chunk_ends=ends, uploaded_by=user)  # fmt: skip
        except IntegrityError:  # the same xorb arrived twice at once: the first one is kept
            accounts.release_storage(user_id=user.pk, size=len(kept))
            return False
        if default_storage.exists(record.storage_key):
            default_storage.delete(record.storage_key)  # left by an attempt whose row was rolled back
        default_storage.save(record.storage_key, ContentFile(kept))
        index(record, [i for i, h in enumerate(layout.hashes) if is_eligible(h)], layout)
        count("xorbs_stored")
        count("xorb_bytes_stored", len(kept))
    return True


def index(record: Xorb, positions: list[int], layout: xorb.Layout | None = None) -> None:
    """Make chunks of a xorb findable by the global dedupe query."""
    layout = layout or layout_of(record)
    XetChunk.objects.bulk_create(
        [XetChunk(hash=hashing.to_hex(layout.hashes[i]), xorb=record, index=i) for i in positions],
        ignore_conflicts=True,
    )


def layout_of(record: Xorb) -> xorb.Layout:
    return xorb.Layout.unpack(record.chunk_hashes, record.chunk_ends)


def read_chunks(record: Xorb, layout: xorb.Layout, start: int, end: int) -> Iterator[bytes]:
    """The raw bytes of chunks [start, end) of a stored xorb, one chunk in memory at a time."""
    with default_storage.open(record.storage_key, "rb") as handle:
        handle.seek(layout.serialized_range(start, end)[0])
        yield from xorb.stream_chunks(handle, end - start)


def read_bytes(record: Xorb, first: int, last: int) -> bytes:
    """Serialized bytes [first, last] (inclusive, as HTTP ranges are) of a stored xorb."""
    with default_storage.open(record.storage_key, "rb") as handle:
        handle.seek(first)
        return handle.read(last - first + 1)
