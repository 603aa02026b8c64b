"""Files uploaded through Xet: a shard names each file's terms (chunk ranges of stored xorbs); the store checks them
(every xorb exists, each range's size and verification hash, the file's Xet hash over all its chunks), reads the
file back from its chunks, checks its sha256, and registers it as the blob that commits name and /resolve serves,
its bytes kept once, as the xorbs' chunks."""

import hashlib

from django.conf import settings
from django.db import transaction

from accounts.models import User
from core.exceptions import InvalidInput, PayloadTooLarge
from registry.models import Blob, BlobGrant
from registry.xet import hashing, shard, xorbs
from registry.xet.models import XetFile, Xorb
from registry.xet.xorb import Layout


def register_shard(*, user: User, data: bytes) -> bool:
    """Register a client's shard. False when every file in it was known already. Refused whole (InvalidInput)
    when anything in it is wrong: nothing of it is kept then."""
    parsed = shard.parse(data)
    named = {record.xorb for record in parsed.xorbs} | {t.xorb for f in parsed.files for t in f.terms}
    records = {r.hash: r for r in Xorb.objects.filter(hash__in=[hashing.to_hex(h) for h in named])}
    missing = sorted(hashing.to_hex(h) for h in named if hashing.to_hex(h) not in records)
    if missing:
        raise InvalidInput(f"the shard names xorbs the CAS does not hold: {', '.join(missing[:5])}")
    layouts = {text: xorbs.layout_of(record) for text, record in records.items()}
    checked = [(record, _checked_chunks(record, layouts)) for record in parsed.files]
    new = False
    with transaction.atomic():
        for record, sizes in checked:
            file_text = hashing.to_hex(record.file_hash)
            assert record.sha256 is not None  # _checked_chunks refuses a file without one
            sha256 = hashing.to_hex(record.sha256)  # kept as a hash is: each 8-byte word reversed
            known = XetFile.objects.filter(file_hash=file_text).select_related("blob").first()
            if known is not None and known.blob.sha256 == sha256:
                BlobGrant.objects.get_or_create(user=user, blob=known.blob)  # the shard proved they hold its chunks
                continue
            if known is not None:
                raise InvalidInput(f"file {file_text} is registered already with another sha256")
            blob = _checked_blob(
                user=user, record=record, size=sum(sizes), sha256=sha256, records=records, layouts=layouts
            )
            registered = XetFile.objects.create(file_hash=file_text, blob=blob, terms=[
                [hashing.to_hex(t.xorb), t.start, t.end, t.raw_bytes] for t in record.terms])  # fmt: skip
            registered.xorbs.set({records[hashing.to_hex(t.xorb)] for t in record.terms})
            first = record.terms[0]
            xorbs.index(records[hashing.to_hex(first.xorb)], [first.start], layouts[hashing.to_hex(first.xorb)])
            xorbs.count("files_registered")
            new = True
        xorbs.count("shards_registered")
    return new


def _checked_chunks(record: shard.FileRecord, layouts: dict[str, Layout]) -> list[int]:
    """The raw size of each term, after checking the file's terms against the xorbs they name."""
    name = hashing.to_hex(record.file_hash)
    if record.sha256 is None:
        raise InvalidInput(f"file {name}: the shard must carry each file's sha256 (its metadata extension)")
    leaves: list[tuple[bytes, int]] = []
    sizes = []
    for term in record.terms:
        layout = layouts[hashing.to_hex(term.xorb)]
        if term.end > len(layout.hashes):
            raise InvalidInput(f"file {name}: chunks [{term.start}, {term.end}) run past the "
                               f"{len(layout.hashes)} chunks of xorb {hashing.to_hex(term.xorb)}")  # fmt: skip
        raw = layout.raw_sizes(term.start, term.end)
        if sum(raw) != term.raw_bytes:
            raise InvalidInput(f"file {name}: a term says {term.raw_bytes} bytes, its chunks hold {sum(raw)}")
        hashes = layout.hashes[term.start : term.end]
        if term.verification is None:
            raise InvalidInput(f"file {name}: the shard must carry a verification hash for every term")
        if term.verification != hashing.verification_hash(hashes):
            raise InvalidInput(f"file {name}: a term's verification hash does not match its chunks")
        leaves.extend(zip(hashes, raw, strict=True))
        sizes.append(sum(raw))
    if hashing.file_hash(leaves) != record.file_hash:
        raise InvalidInput(f"file {name}: its chunks hash to {hashing.to_hex(hashing.file_hash(leaves))}")
    return sizes


def _checked_blob(*, user: User, record: shard.FileRecord, size: int, sha256: str, records: dict[str, Xorb],
             layouts: dict[str, Layout]) -> Blob:  # fmt: skip
    """Read the file back from its chunks and check its sha256; its blob is then those chunks (registry/storage.py
    reads it through registry/xet/reader.py): the store keeps the bytes once, charged as xorbs."""
    if size > settings.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"file {hashing.to_hex(record.file_hash)} is {size} bytes, over the upload limit of "
                              f"{settings.MAX_UPLOAD_BYTES}")  # fmt: skip
    digest = hashlib.sha256()
    for term in record.terms:
        text = hashing.to_hex(term.xorb)
        for chunk in xorbs.read_chunks(records[text], layouts[text], term.start, term.end):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise InvalidInput(f"file {hashing.to_hex(record.file_hash)}: its chunks hash to sha256 "
                           f"{digest.hexdigest()}, not {sha256}")  # fmt: skip
    blob, _ = Blob.objects.get_or_create(sha256=sha256, defaults={"size": size})
    BlobGrant.objects.get_or_create(user=user, blob=blob)
    return blob
