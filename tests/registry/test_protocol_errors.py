"""Bad input on the HF routes: a clear 4xx with X-Error-Code where the protocol has one, and nothing changed."""

import base64
import json
import threading

import pytest
from django.db import connection

from accounts.models import User
from registry import services
from registry.models import Blob, Commit, FileEntry, Model

pytestmark = pytest.mark.django_db


def ndjson(*lines) -> str:
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def add_file(path: str, content: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}


HEADER = {"key": "header", "value": {"summary": "test"}}


@pytest.fixture
def repo(provider):
    return services.create_model(owner=provider, name="tiny")


def model_with_weights(owner, name: str, data: bytes, *, is_private: bool = False):
    """`owner/name` holding `data` as model.safetensors in one commit; returns (model, blob)."""
    model = services.create_model(owner=owner, name=name, is_private=is_private)
    blob = services.ingest_upload(user=owner, incoming_stream=[data], size=len(data))
    services.commit_changes(model_id=model.pk, author=owner, operations=[services.AddFile("model.safetensors", blob)],
                            message="x")  # fmt: skip
    return model, blob


def post_commit(client, key, body, repo_id="alice/tiny"):
    return client.post(
        f"/api/models/{repo_id}/commit/main",
        body,
        content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def test_missing_repo_revision_and_file_carry_x_error_code(client, repo, provider_key):
    post_commit(client, provider_key, ndjson(HEADER, add_file("config.json", b"{}")))

    missing_repo = client.get("/alice/nope/resolve/main/config.json")
    missing_rev = client.get("/alice/tiny/resolve/v9/config.json")
    missing_file = client.get("/alice/tiny/resolve/main/nope.json")
    info_missing = client.get("/api/models/alice/nope")

    assert [r.status_code for r in (missing_repo, missing_rev, missing_file, info_missing)] == [404] * 4
    assert missing_repo["X-Error-Code"] == "RepoNotFound"
    assert missing_rev["X-Error-Code"] == "RevisionNotFound"
    assert missing_file["X-Error-Code"] == "EntryNotFound"
    assert info_missing["X-Error-Code"] == "RepoNotFound"


def test_private_repo_answers_exactly_like_a_missing_one(client, provider, consumer, make_key):
    services.create_model(owner=provider, name="secret", is_private=True)
    key = make_key(consumer)

    private = client.get("/api/models/alice/secret", HTTP_AUTHORIZATION=f"Bearer {key}")
    missing = client.get("/api/models/alice/absent", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert (private.status_code, private["X-Error-Code"]) == (404, "RepoNotFound")
    assert private.json() == {"error": "Repository not found: alice/secret"}
    assert missing.json() == {"error": "Repository not found: alice/absent"}


def test_others_cannot_write_to_a_public_repo(client, repo, consumer, make_key):
    response = post_commit(client, make_key(consumer), ndjson(HEADER, add_file("config.json", b"{}")))

    assert response.status_code == 403
    assert Commit.objects.count() == 0


def test_others_cannot_write_to_a_private_repo_and_learn_nothing(client, provider, consumer, make_key):
    services.create_model(owner=provider, name="secret", is_private=True)

    response = post_commit(client, make_key(consumer), ndjson(HEADER, add_file("config.json", b"{}")), "alice/secret")

    assert (response.status_code, response["X-Error-Code"]) == (404, "RepoNotFound")
    assert Commit.objects.count() == 0


@pytest.mark.parametrize(
    "path",
    [
        "../etc/passwd",
        "/etc/passwd",
        "a/../../b",
        "a//b",
        "./x",
        "con\x00fig.json",
        "dir\\file",
        "é.json",
        "a/.git/config",
        " space.json",
        "",
    ],
)
def test_bad_file_names_are_400_and_store_nothing(client, repo, provider_key, path):
    response = post_commit(client, provider_key, ndjson(HEADER, add_file(path, b"data")))

    assert response.status_code == 400
    assert "line 2" in response.json()["error"]
    assert (Commit.objects.count(), Blob.objects.count()) == (0, 0)


def test_preupload_refuses_bad_names_and_oversized_files(client, repo, provider_key, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    auth = {"HTTP_AUTHORIZATION": f"Bearer {provider_key}"}
    url = "/api/models/alice/tiny/preupload/main"

    traversal = client.post(
        url, {"files": [{"path": "../x", "size": 1, "sample": ""}]}, content_type="application/json", **auth
    )
    too_big = client.post(
        url,
        {"files": [{"path": "big.safetensors", "size": 1001, "sample": ""}]},
        content_type="application/json",
        **auth,
    )
    fine = client.post(
        url, {"files": [{"path": "config.json", "size": 10, "sample": ""}]}, content_type="application/json", **auth
    )

    assert (traversal.status_code, too_big.status_code) == (400, 413)
    assert fine.json()["files"] == [
        {"path": "config.json", "uploadMode": "regular", "shouldIgnore": False, "oid": None}
    ]


def test_commit_body_over_the_limit_is_413(client, repo, provider_key, settings):
    settings.MAX_COMMIT_BODY_BYTES = 100

    response = post_commit(client, provider_key, ndjson(HEADER, add_file("config.json", b"x" * 200)))

    assert response.status_code == 413
    assert Commit.objects.count() == 0


def test_lfs_upload_over_the_limit_is_refused(client, repo, provider_key, settings):
    settings.MAX_UPLOAD_BYTES = 10
    body = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": "a" * 64, "size": 11}]}

    response = client.post(
        "/alice/tiny.git/info/lfs/objects/batch",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {provider_key}",
    )

    assert response.json()["objects"][0]["error"]["code"] == 413
    assert "actions" not in response.json()["objects"][0]


def test_malformed_ndjson_names_the_line_and_stores_nothing(client, repo, provider_key):
    body = ndjson(HEADER, add_file("a.json", b"{}")) + "{not json\n"

    response = post_commit(client, provider_key, body)

    assert response.status_code == 400
    assert response.json()["error"].startswith("line 3: not a valid commit operation")
    assert (Commit.objects.count(), Blob.objects.count()) == (0, 0)


def test_a_commit_without_a_header_is_400(client, repo, provider_key):
    response = post_commit(client, provider_key, ndjson(add_file("a.json", b"{}")))

    assert response.status_code == 400
    assert response.json()["error"] == "line 1: the first line must be the commit header"


def test_referencing_an_lfs_object_not_uploaded_by_the_caller_is_refused(client, repo, provider, consumer, make_key):
    """Knowing a private file's sha256 must not let anyone copy it into their own repo."""
    _, blob = model_with_weights(provider, "secret", b"private weights", is_private=True)
    services.create_model(owner=consumer, name="copycat")
    lfs_line = {"key": "lfsFile", "value": {"path": "model.safetensors", "algo": "sha256", "oid": blob.sha256}}

    response = post_commit(client, make_key(consumer), ndjson(HEADER, lfs_line), "bob/copycat")

    assert response.status_code == 400
    assert "has not been uploaded" in response.json()["error"]
    assert not FileEntry.objects.filter(commit__model__name="copycat").exists()


def test_a_stale_parent_commit_is_409(client, repo, provider_key):
    first = post_commit(client, provider_key, ndjson(HEADER, add_file("a.json", b"1"))).json()["commitOid"]
    post_commit(client, provider_key, ndjson(HEADER, add_file("b.json", b"2")))
    stale = {"key": "header", "value": {"summary": "late", "parentCommit": first}}

    used_before = User.objects.get(username="alice").storage_used_bytes

    response = post_commit(client, provider_key, ndjson(stale, add_file("c.json", b"3")))

    assert response.status_code == 409
    assert Commit.objects.count() == 2
    assert Blob.objects.count() == 2  # c.json's blob rolled back with the refused commit
    assert User.objects.get(username="alice").storage_used_bytes == used_before


def test_range_requests_get_206_with_the_exact_bytes(client, repo, provider_key):
    post_commit(client, provider_key, ndjson(HEADER, add_file("data.txt", b"0123456789")))

    middle = client.get("/alice/tiny/resolve/main/data.txt", HTTP_RANGE="bytes=2-5")
    suffix = client.get("/alice/tiny/resolve/main/data.txt", HTTP_RANGE="bytes=-3")
    beyond = client.get("/alice/tiny/resolve/main/data.txt", HTTP_RANGE="bytes=20-")
    head = client.head("/alice/tiny/resolve/main/data.txt")

    assert (middle.status_code, b"".join(middle.streaming_content), middle["Content-Range"]) == (
        206,
        b"2345",
        "bytes 2-5/10",
    )
    assert b"".join(suffix.streaming_content) == b"789"
    assert beyond.status_code == 416
    blob = Blob.objects.get()
    assert (head["ETag"], head["Content-Length"], head["X-Repo-Commit"]) == (
        f'"{blob.sha256}"',
        "10",
        Commit.objects.get().sha,
    )


def test_storage_quota_is_enforced_before_bytes_are_stored(client, repo, provider, provider_key):
    User.objects.filter(pk=provider.pk).update(storage_quota_bytes=5)

    response = post_commit(client, provider_key, ndjson(HEADER, add_file("a.json", b"0123456789")))

    assert response.status_code == 413
    assert Blob.objects.count() == 0
    assert User.objects.get(pk=provider.pk).storage_used_bytes == 0


@pytest.mark.django_db(transaction=True)
def test_two_commits_racing_on_main_both_land_without_losing_a_file(provider):
    """Commits on a model are serialised: the later one is rebased onto the earlier, so no file is lost."""
    if connection.vendor != "postgresql":
        pytest.fail("run this on PostgreSQL (DATABASE_URL), where the row lock is real")
    model = services.create_model(owner=provider, name="race")
    blobs = [services.ingest_upload(user=provider, incoming_stream=[f"file {i}".encode()], size=6) for i in range(8)]
    barrier = threading.Barrier(8)
    errors = []

    def push(i):
        from django.db import connections

        try:
            barrier.wait()
            services.commit_changes(
                model_id=model.pk,
                author=provider,
                operations=[services.AddFile(f"f{i}.txt", blobs[i])],
                message=f"c{i}",
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    head = services.head_commit(model=Model.objects.get(pk=model.pk))
    assert sorted(head.files.values_list("path", flat=True)) == [f"f{i}.txt" for i in range(8)]
    assert Commit.objects.filter(model=model).count() == 8


@pytest.mark.parametrize("download_price", [None, "5"], ids=["call-only", "paid-download"])
def test_a_weights_hash_grants_no_copy_of_withheld_or_paid_weights(
    client, provider, consumer, make_key, download_price
):
    """The tree route publishes every file's sha256; naming it in a commit must not copy weights that a listing
    offers for calls only or sells, and the LFS batch asks for the bytes instead of taking them as present."""
    from marketplace.services import listings

    public, blob = model_with_weights(provider, "public", b"call-only weights")
    listing = listings.save_listing(
        model=public, by=provider, title="Public", license="mit", is_downloadable=download_price is not None
    )
    if download_price is not None:
        listings.set_prices(listing=listing, by=provider, prompt_price="1", completion_price="1",
                            download_price=download_price)  # fmt: skip
    services.create_model(owner=consumer, name="copycat")
    key = make_key(consumer)
    lfs_line = {"key": "lfsFile", "value": {"path": "model.safetensors", "algo": "sha256", "oid": blob.sha256}}

    commit = post_commit(client, key, ndjson(HEADER, lfs_line), "bob/copycat")
    batch = client.post(
        "/bob/copycat.git/info/lfs/objects/batch",
        {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": blob.sha256, "size": 17}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )

    assert commit.status_code == 400
    assert "has not been uploaded" in commit.json()["error"]
    assert not Commit.objects.filter(model__name="copycat").exists()
    assert "upload" in batch.json()["objects"][0]["actions"]


def test_a_free_public_file_may_be_referenced_by_its_hash(client, provider, consumer, make_key):
    """Bytes anyone may download for free (a public model without a listing) need not be sent again."""
    _, blob = model_with_weights(provider, "public", b"free weights")
    services.create_model(owner=consumer, name="copy")
    lfs_line = {"key": "lfsFile", "value": {"path": "model.safetensors", "algo": "sha256", "oid": blob.sha256}}

    response = post_commit(client, make_key(consumer), ndjson(HEADER, lfs_line), "bob/copy")

    assert response.status_code == 200
    assert FileEntry.objects.get(commit__model__name="copy").blob == blob


@pytest.mark.parametrize(
    "payload",
    [{"visibility": "Private"}, {"visibility": "hidden"}, {"visibility": 1}, {"private": "yes"},
     {"private": 1}, {"visibility": "public", "private": True},
     {"visibility": ["public"]}, {"visibility": {"public": True}}],  # TypeError (unhashable): a 500 (issue #22)
)  # fmt: skip
def test_a_visibility_that_is_not_documented_is_400_and_nothing_becomes_public(client, provider, provider_key, payload):
    """Any visibility but exactly 'private' made a repo public (issue #10, finding 8)."""
    services.create_model(owner=provider, name="secret", is_private=True)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {provider_key}"}

    created = client.post("/api/repos/create", {"name": "new", **payload}, content_type="application/json", **auth)
    changed = client.put("/api/models/alice/secret/settings", payload, content_type="application/json", **auth)

    assert (created.status_code, changed.status_code) == (400, 400)
    assert created.json()["error"] == changed.json()["error"]
    assert not Model.objects.filter(name="new").exists()
    assert Model.objects.get(name="secret").is_private is True


def test_documented_visibilities_set_privacy(client, provider, provider_key):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {provider_key}"}
    client.post("/api/repos/create", {"name": "a", "visibility": "private"}, content_type="application/json", **auth)
    client.post("/api/repos/create", {"name": "b", "private": True}, content_type="application/json", **auth)
    client.post("/api/repos/create", {"name": "c"}, content_type="application/json", **auth)
    public = client.put("/api/models/alice/a/settings", {"visibility": "public"}, content_type="application/json",
                        **auth)  # fmt: skip

    assert public.json() == {"private": False}
    assert dict(Model.objects.values_list("name", "is_private")) == {"a": False, "b": True, "c": False}
