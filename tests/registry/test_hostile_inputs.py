"""Inputs a hostile probe sent to the HF routes that answered 500 (issue #10, finding 7): each is now a clear 4xx
in the protocol's shape, and nothing is stored."""

import base64
import json

import pytest

from registry import services
from registry.models import Commit, FileEntry

pytestmark = pytest.mark.django_db

HEADER = {"key": "header", "value": {"summary": "probe"}}


@pytest.fixture
def repo(provider):
    model = services.create_model(owner=provider, name="tiny")
    blob = services.ingest_upload(user=provider, incoming_stream=[b"0123456789"], size=10)
    services.commit_changes(model_id=model.pk, author=provider, operations=[services.AddFile("a.txt", blob)],
                            message="first")  # fmt: skip
    return model


def ndjson(*lines) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"


def commit_body(probe, key, body):
    return probe.post("/api/models/alice/tiny/commit/main", body, content_type="application/x-ndjson",
                      HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip


NESTED = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize(
    "lines",
    [
        [HEADER, {"key": "deletedFolder", "value": {"path": ["a"]}}],
        [HEADER, {"key": "deletedFolder", "value": {"path": {"x": 1}}}],
        [HEADER, {"key": "deletedFile", "value": {"path": 7}}],
        [{"key": "header", "value": {"summary": "x", "parentCommit": 12345}}, {"key": "deletedFile",
                                                                              "value": {"path": "a.txt"}}],
        [{"key": "header", "value": {"summary": "x", "parentCommit": ["a"]}}],
        [{"key": "header", "value": {"summary": ["not", "text"]}}],
        [HEADER, '{"key": "file", "value": ' + NESTED + "}"],
        [NESTED],
        [HEADER, {"key": "file", "value": {"path": "b.txt", "content": base64.b64encode(b"x").decode(),
                                           "encoding": "base64"}}, {"key": "lfsFile", "value": {"path": "c.bin",
                                                                                               "oid": 5}}],
        [HEADER, {"key": "deletedFolder", "value": {}}],  # found by tests/test_fuzz_bodies.py
        [{"key": "header", "value": {"summary": "a\u0000b"}}],  # found by tests/test_fuzz_bodies.py
    ],
    ids=["folder-list", "folder-object", "file-int", "parent-int", "parent-list", "summary-list", "nested-value",
         "nested-line", "lfs-oid-int", "folder-without-path", "nul-summary"],
)  # fmt: skip
def test_malformed_commit_lines_are_400_and_store_nothing(probe, repo, provider_key, lines):
    response = commit_body(probe, provider_key, ndjson(*lines))

    assert response.status_code == 400, response.content[:300]
    assert isinstance(response.json()["error"], str)
    assert Commit.objects.filter(model=repo).count() == 1
    assert list(FileEntry.objects.filter(commit__model=repo).values_list("path", flat=True)) == ["a.txt"]


@pytest.mark.parametrize("transfers", [5, "basic", [["basic"]], {"basic": 1}])
def test_an_lfs_batch_with_odd_transfers_is_400(probe, repo, provider_key, transfers):
    response = probe.post(
        "/alice/tiny.git/info/lfs/objects/batch",
        {"operation": "upload", "transfers": transfers, "objects": [{"oid": "a" * 64, "size": 1}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {provider_key}",
    )
    assert response.status_code == 400
    assert "transfers" in response.json()["error"]


def test_a_range_of_5000_digits_is_416_or_ignored_never_500(probe, repo, provider_key):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {provider_key}"}
    huge = "9" * 5000

    starts = probe.get("/alice/tiny/resolve/main/a.txt", HTTP_RANGE=f"bytes={huge}-", **auth)
    suffix = probe.get("/alice/tiny/resolve/main/a.txt", HTTP_RANGE=f"bytes=-{huge}", **auth)
    ends = probe.get("/alice/tiny/resolve/main/a.txt", HTTP_RANGE=f"bytes=2-{huge}", **auth)

    assert starts.status_code == 416 and starts["Content-Range"] == "bytes */10"
    assert (suffix.status_code, b"".join(suffix.streaming_content)) == (206, b"0123456789")
    assert (ends.status_code, b"".join(ends.streaming_content)) == (206, b"23456789")


@pytest.mark.parametrize(
    "url",
    ["/alice/tiny/resolve/main/a%00.txt", "/alice/tiny/resolve/ma%00in/a.txt", "/api/models/alice/tiny/tree/main/a%00",
     "/api/models/alice/ti%00ny", "/api/models/alice/tiny/revision/m%00ain", "/api/models?search=a%00b",
     "/alice/tiny/resolve/main/a.txt?x=%00"],
)  # fmt: skip
def test_nul_in_paths_and_queries_is_400(probe, repo, provider_key, url):
    response = probe.get(url, HTTP_AUTHORIZATION=f"Bearer {provider_key}")

    assert response.status_code == 400, response.content[:300]
    assert "NUL" in response.json()["error"]


@pytest.mark.parametrize(
    "url", ["/api/models/alice/tiny/revision/ma%0Ain", "/api/models/alice/tiny/tree/main/b%0D%0Ac",
            "/alice/tiny/resolve/ma%0Ain/a.txt", "/alice/tiny/resolve/main/b%0Ac.txt"],
)  # fmt: skip
def test_an_error_message_with_newlines_stays_one_header_line(probe, repo, provider_key, url):
    """X-Error-Message echoes the client's revision or path, which may carry a newline (%0A)."""
    response = probe.get(url, HTTP_AUTHORIZATION=f"Bearer {provider_key}")

    assert response.status_code == 404
    assert response["X-Error-Code"] in ("EntryNotFound", "RevisionNotFound")
    assert "\n" not in response["X-Error-Message"] and "\r" not in response["X-Error-Message"]


CONTROL_URLS = ["/api/models/alice/tiny%10", "/api/models/alice/tiny/revision/%10", "/api/models/alice/tiny/tree/main/%10",
                "/alice/tiny%10/resolve/main/x", "/alice/tiny/resolve/main/a%7F.txt", "/api/models/a/b%01%1F"]  # fmt: skip


@pytest.mark.parametrize("url", CONTROL_URLS)
def test_control_characters_in_a_url_never_reach_a_header(probe, repo, url):
    """gunicorn refuses to send a header holding 0x00-0x1F or 0x7F, so an X-Error-Message that echoed `%10` from
    the URL was a 500 for anyone, anonymously (issue #22, 60 of schemathesis's 64 server errors)."""
    from gunicorn.http.wsgi import HEADER_VALUE_RE  # the rule of the server that refused them

    response = probe.get(url)

    assert response.status_code == 404, response.content[:300]
    assert response["X-Error-Code"] in ("RepoNotFound", "RevisionNotFound", "EntryNotFound")
    for name, value in response.headers.items():
        assert HEADER_VALUE_RE.fullmatch(value), (name, value)
        assert all(" " <= character <= "~" for character in value), (name, value)
