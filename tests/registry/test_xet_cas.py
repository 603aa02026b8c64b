"""The store's Xet CAS by hand: what a correct client does (xorb, shard, dedupe, reconstruction by range, fetch),
and the hostile cases, each answered 4xx with nothing stored: a xorb whose hash does not match, a truncated body,
a shard naming a missing xorb, a file whose bytes do not match its sha256 or its verification hash, a token of
another repository, an expired token, a read token that writes."""

import datetime
import hashlib
import os
import random
import socket
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from registry import services
from registry.models import Blob, BlobGrant, XetChunk, XetFile, XetToken, Xorb
from registry.storage import open_blob
from registry.xet import hashing, shard
from tests.registry.xet_builders import Upload

pytestmark = pytest.mark.django_db
DATA = random.Random(7).randbytes(300_000)  # about five chunks


@pytest.fixture(autouse=True)
def own_storage(settings, tmp_path):
    """Storage of this test's own, so that "nothing stored" looks at what this test did."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                          "OPTIONS": {"location": str(tmp_path / "storage")}}}  # fmt: skip


@pytest.fixture
def web() -> Client:
    return Client()


@pytest.fixture
def repo(provider):
    return services.create_model(owner=provider, name="weights", is_private=True)


def token(web: Client, key: str, repo: str, kind: str) -> str:
    answer = web.get(f"/api/models/{repo}/xet-{kind}-token/main", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert answer.status_code == 200, answer.content
    assert answer["X-Xet-Access-Token"] == answer.json()["accessToken"]
    assert answer.json()["casUrl"] == "http://testserver/cas"
    return answer.json()["accessToken"]


def post(web: Client, path: str, body: bytes, bearer: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {bearer}"} if bearer else {}
    return web.post(path, body, content_type="application/octet-stream", **headers)


def stored_nothing(provider, item: Upload) -> None:
    provider.refresh_from_db()
    assert (Xorb.objects.count(), XetFile.objects.count(), XetChunk.objects.count()) == (0, 0, 0)
    assert provider.storage_used_bytes == 0
    assert not default_storage.exists(Xorb(hash=item.xorb_hash).storage_key)  # not a byte of the xorb in storage


def upload(web: Client, write: str, item: Upload) -> None:
    assert post(web, f"/cas/v1/xorbs/default/{item.xorb_hash}", item.xorb, write).json() == {"was_inserted": True}
    answer = post(web, "/cas/v1/shards", item.shard(), write)
    assert answer.status_code == 200, answer.content


def test_an_upload_by_hand_registers_the_file_as_a_blob_and_reads_back_by_range(web, provider, provider_key, repo):
    write = token(web, provider_key, "alice/weights", "write")
    item = Upload.of(DATA)

    upload(web, write, item)
    again = post(web, f"/cas/v1/xorbs/default/{item.xorb_hash}", item.xorb, write)

    assert again.json() == {"was_inserted": False}
    stored = XetFile.objects.get()
    assert (stored.file_hash, stored.blob.sha256) == (item.file_hash, hashlib.sha256(DATA).hexdigest())
    assert BlobGrant.objects.filter(user=provider, blob=stored.blob).exists()  # alice may now commit it by sha256
    provider.refresh_from_db()
    assert provider.storage_used_bytes == len(item.xorb)  # the file is kept once, as the xorb's chunks
    with open_blob(stored.blob) as handle:  # and read back from them, seekable
        assert handle.read() == DATA
        handle.seek(123_456)
        assert handle.read(70_000) == DATA[123_456:193_456]
    services.commit_changes(model_id=repo.pk, author=provider, message="weights",
                            operations=[services.AddFile("model.safetensors", stored.blob)])  # fmt: skip

    read = token(web, provider_key, "alice/weights", "read")
    head = web.head(f"/cas/v1/files/{item.file_hash}", HTTP_AUTHORIZATION=f"Bearer {read}")
    assert (head.status_code, head["Content-Length"]) == (200, str(len(DATA)))
    for version in ("1", "2"):
        for first, last in ((0, len(DATA) - 1), (70_000, 200_000), (299_990, 400_000)):
            assert rebuilt(web, read, item, version, first, last) == DATA[first : last + 1], (version, first, last)
    past = web.get(f"/cas/v2/reconstructions/{item.file_hash}", HTTP_RANGE=f"bytes={len(DATA)}-",
                   HTTP_AUTHORIZATION=f"Bearer {read}")  # fmt: skip
    assert past.status_code == 416


def rebuilt(web: Client, read: str, item: Upload, version: str, first: int, last: int) -> bytes:
    """The bytes [first, last] as a client gets them: the reconstruction, then each signed range fetched."""
    answer = web.get(f"/cas/v{version}/reconstructions/{item.file_hash}", HTTP_RANGE=f"bytes={first}-{last}",
                     HTTP_AUTHORIZATION=f"Bearer {read}").json()  # fmt: skip
    chunks: dict[int, bytes] = {}
    if version == "1":
        fetches = [(e["url"], [(e["range"], e["url_range"])]) for e in answer["fetch_info"][item.xorb_hash]]
    else:
        fetches = [
            (e["url"], [(r["chunks"], r["bytes"]) for r in e["ranges"]]) for e in answer["xorbs"][item.xorb_hash]
        ]
    for url, ranges in fetches:
        header = "bytes=" + ",".join(f"{b['start']}-{b['end']}" for _, b in ranges)
        response = web.get(urlsplit(url).path, HTTP_RANGE=header)
        assert response.status_code == 206
        assert len(ranges) == 1  # one run of chunks per xorb here
        span = ranges[0][0]
        chunks.update(zip(range(span["start"], span["end"]), item.chunks[span["start"] : span["end"]], strict=True))
        assert response.content == item.xorb[ranges[0][1]["start"] : ranges[0][1]["end"] + 1]
    data = b"".join(chunks[i] for term in answer["terms"] for i in range(term["range"]["start"], term["range"]["end"]))
    return data[answer["offset_into_first_range"] :][: last - first + 1]


def test_the_dedupe_query_answers_keyed_chunk_hashes_of_the_xorb_holding_a_chunk(web, provider_key, repo):
    write = token(web, provider_key, "alice/weights", "write")
    item = Upload.of(DATA)
    upload(web, write, item)
    first = hashing.chunk_hash(item.chunks[0])

    answer = web.get(f"/cas/v1/chunks/default-merkledb/{hashing.to_hex(first)}", HTTP_AUTHORIZATION=f"Bearer {write}")
    unknown = web.get(f"/cas/v1/chunks/default-merkledb/{'ab' * 32}", HTTP_AUTHORIZATION=f"Bearer {write}")

    assert answer.status_code == 200 and unknown.status_code == 404
    body = answer.content
    key = body[-200 + 72 : -200 + 104]  # the footer's HMAC key
    assert key != bytes(32) and shard.hmac(first, key) in body
    assert not any(hashing.chunk_hash(c) in body for c in item.chunks)  # raw chunk hashes never leave the store
    assert hashing.from_hex(item.xorb_hash) in body


def test_a_xorb_whose_hash_does_not_match_its_chunks_is_refused(web, provider, provider_key, repo):
    write = token(web, provider_key, "alice/weights", "write")
    item, other = Upload.of(DATA), Upload.of(DATA[:100_000])

    answer = post(web, f"/cas/v1/xorbs/default/{other.xorb_hash}", item.xorb, write)

    assert answer.status_code == 400 and "hash to" in answer.json()["error"]
    stored_nothing(provider, item)


@pytest.mark.parametrize("damage", ["truncated", "bad header", "bad lz4", "not a hash"])
def test_a_malformed_xorb_is_refused(web, provider, provider_key, repo, damage):
    write = token(web, provider_key, "alice/weights", "write")
    item = Upload.of(DATA)
    body, name = item.xorb, item.xorb_hash
    if damage == "truncated":
        body = body[:-10]
    elif damage == "bad header":
        body = b"\x07" + body[1:]
    elif damage == "bad lz4":
        body = body[:8] + bytes(len(body) - 8)
    else:
        name = "zz" * 32

    answer = post(web, f"/cas/v1/xorbs/default/{name}", body, write)

    assert answer.status_code == 400, answer.content
    stored_nothing(provider, item)


def test_a_body_cut_short_is_refused(live_server, provider, provider_key, repo):
    write = token(Client(), provider_key, "alice/weights", "write")
    item = Upload.of(DATA)
    address = urlsplit(live_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(f"POST /cas/v1/xorbs/default/{item.xorb_hash} HTTP/1.1\r\nHost: x\r\n"
                           f"Authorization: Bearer {write}\r\nContent-Length: {len(item.xorb)}\r\n\r\n".encode()
                           + item.xorb[: len(item.xorb) // 2])  # fmt: skip
        connection.shutdown(socket.SHUT_WR)  # the client goes away halfway
        answer = connection.makefile("rb").read()

    assert answer.split(b" ")[1] in (b"400", b"408"), answer[:200]
    stored_nothing(provider, item)


def test_a_shard_naming_a_missing_xorb_is_refused(web, provider, provider_key, repo):
    write = token(web, provider_key, "alice/weights", "write")
    item = Upload.of(DATA)

    answer = post(web, "/cas/v1/shards", item.shard(), write)

    assert answer.status_code == 400 and "does not hold" in answer.json()["error"]
    stored_nothing(provider, item)


@pytest.mark.parametrize("damage", ["sha256", "verification", "range", "garbage", "file hash"])
def test_a_shard_whose_file_does_not_match_is_refused_and_keeps_no_file(web, provider, provider_key, repo, damage):
    write = token(web, provider_key, "alice/weights", "write")
    item = Upload.of(DATA)
    assert post(web, f"/cas/v1/xorbs/default/{item.xorb_hash}", item.xorb, write).status_code == 200
    provider.refresh_from_db()
    before = (provider.storage_used_bytes, Blob.objects.count())
    body = {
        "sha256": lambda: item.shard(sha256=hashlib.sha256(b"other bytes").hexdigest()),
        "verification": lambda: item.shard(verification=bytes(32)),
        "range": lambda: item.shard(end=len(item.chunks) + 1),
        "garbage": lambda: os.urandom(500),
        "file hash": lambda: item.shard()[:48] + b"\x01" + item.shard()[49:],
    }[damage]()

    answer = post(web, "/cas/v1/shards", body, write)

    assert answer.status_code == 400, answer.content
    provider.refresh_from_db()
    assert (provider.storage_used_bytes, Blob.objects.count()) == before
    assert XetFile.objects.count() == 0
    assert not Blob.objects.filter(sha256=hashlib.sha256(DATA).hexdigest()).exists()


def test_tokens_carry_exactly_the_repositorys_access(web, provider, provider_key, consumer, make_key, repo):
    public = services.create_model(owner=provider, name="open")
    stranger = make_key(consumer)
    read_only = make_key(provider, scopes=("read",))

    assert web.get("/api/models/alice/weights/xet-read-token/main",
                   HTTP_AUTHORIZATION=f"Bearer {stranger}").status_code == 404  # fmt: skip
    assert web.get("/api/models/alice/open/xet-write-token/main",
                   HTTP_AUTHORIZATION=f"Bearer {stranger}").status_code == 403  # fmt: skip
    assert web.get("/api/models/alice/open/xet-write-token/main",
                   HTTP_AUTHORIZATION=f"Bearer {read_only}").status_code == 403  # fmt: skip
    assert web.get("/api/models/alice/open/xet-write-token/main").status_code == 401
    assert web.get("/api/models/alice/open/xet-read-token/nope",
                   HTTP_AUTHORIZATION=f"Bearer {provider_key}").status_code == 404  # fmt: skip
    assert web.get("/api/models/alice/open/xet-read-token/main").status_code == 200  # a public repository
    assert list(XetToken.objects.values_list("model", "scope", "user")) == [(public.pk, "read", None)]

    write = token(web, provider_key, "alice/weights", "write")
    item = Upload.of(DATA)
    upload(web, write, item)
    services.commit_changes(model_id=repo.pk, author=provider, message="weights",
                            operations=[services.AddFile("w.bin", XetFile.objects.get().blob)])  # fmt: skip
    services.create_model(owner=consumer, name="theirs")
    theirs = token(web, stranger, "bob/theirs", "read")
    other_repo = token(web, provider_key, "alice/open", "read")
    for bearer in (theirs, other_repo):  # a token for another repository reads nothing of this one
        answer = web.get(f"/cas/v2/reconstructions/{item.file_hash}", HTTP_AUTHORIZATION=f"Bearer {bearer}")
        assert answer.status_code == 404
        assert web.head(f"/cas/v1/files/{item.file_hash}", HTTP_AUTHORIZATION=f"Bearer {bearer}").status_code == 404


def test_an_expired_a_read_or_no_token_cannot_write(web, provider, provider_key, repo):
    item = Upload.of(DATA)
    write, read = token(web, provider_key, "alice/weights", "write"), token(web, provider_key, "alice/weights", "read")
    XetToken.objects.filter(scope="write").update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    path = f"/cas/v1/xorbs/default/{item.xorb_hash}"

    assert post(web, path, item.xorb, write).status_code == 401
    assert post(web, path, item.xorb, read).status_code == 403
    assert post(web, path, item.xorb, provider_key).status_code == 401  # an API key is not a CAS token
    assert post(web, path, item.xorb, None).status_code == 401
    assert post(web, "/cas/v1/shards", item.shard(), read).status_code == 403
    stored_nothing(provider, item)
