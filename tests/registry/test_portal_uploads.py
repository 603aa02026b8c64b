"""The portal's resumable uploads: chunks at the server's offset, resume after a drop, commit, isolation."""

import hashlib

import pytest

from registry import services
from registry.models import Blob, Commit, UploadSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, provider):
    client.force_login(provider)
    services.create_model(owner=provider, name="tiny")
    return client


def put_chunk(client, upload_id, offset, data):
    return client.put(
        f"/api/uploads/{upload_id}", data, content_type="application/octet-stream", HTTP_UPLOAD_OFFSET=str(offset)
    )


def test_an_interrupted_upload_resumes_at_the_servers_offset_and_commits(logged_in):
    data = bytes(range(256)) * 40  # 10,240 bytes
    upload = logged_in.post(
        "/api/uploads",
        {"repo": "alice/tiny", "path": "weights.bin", "size": len(data)},
        content_type="application/json",
    ).json()

    first = put_chunk(logged_in, upload["id"], 0, data[:4000])
    replayed = put_chunk(logged_in, upload["id"], 0, data[:4000])  # the client lost the answer and retries
    status = logged_in.get(f"/api/uploads/{upload['id']}").json()
    rest = put_chunk(logged_in, upload["id"], status["received"], data[status["received"] :])
    commit = logged_in.post(
        "/api/uploads/commit", {"repo": "alice/tiny", "uploads": [upload["id"]]}, content_type="application/json"
    )

    assert first.json()["received"] == 4000
    assert replayed.status_code == 409
    assert replayed.json()["error"]["message"] == "the server has 4000 bytes; send the chunk at that offset"
    assert rest.json()["received"] == len(data)
    assert commit.status_code == 201
    head = Commit.objects.get(sha=commit.json()["sha"])
    assert head.files.get().blob.sha256 == hashlib.sha256(data).hexdigest()
    assert UploadSession.objects.count() == 0


def test_committing_an_unfinished_upload_is_refused(logged_in):
    upload = logged_in.post(
        "/api/uploads", {"repo": "alice/tiny", "path": "a.bin", "size": 10}, content_type="application/json"
    ).json()
    put_chunk(logged_in, upload["id"], 0, b"12345")

    response = logged_in.post(
        "/api/uploads/commit", {"repo": "alice/tiny", "uploads": [upload["id"]]}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "uploads not finished: a.bin"
    assert (Commit.objects.count(), Blob.objects.count()) == (0, 0)


def test_a_chunk_past_the_declared_size_is_refused(logged_in):
    upload = logged_in.post(
        "/api/uploads", {"repo": "alice/tiny", "path": "a.bin", "size": 4}, content_type="application/json"
    ).json()

    response = put_chunk(logged_in, upload["id"], 0, b"123456")

    assert response.status_code == 400
    assert UploadSession.objects.get().received == 0


def test_uploads_into_someone_elses_model_are_not_found(client, logged_in, outsider):
    client.force_login(outsider)

    response = client.post(
        "/api/uploads", {"repo": "alice/tiny", "path": "a.bin", "size": 4}, content_type="application/json"
    )

    assert response.status_code == 404
    assert UploadSession.objects.count() == 0


def test_an_upload_over_the_size_limit_is_413(logged_in, settings):
    settings.MAX_UPLOAD_BYTES = 100

    response = logged_in.post(
        "/api/uploads", {"repo": "alice/tiny", "path": "a.bin", "size": 101}, content_type="application/json"
    )

    assert response.status_code == 413
    assert UploadSession.objects.count() == 0


def test_the_card_editor_commits_readme_and_sanitises_it(logged_in):
    response = logged_in.post(
        "/alice/tiny/edit", {"content": "# Hello\n\n<script>alert(1)</script>[x](javascript:alert(1))"}
    )
    page = logged_in.get("/alice/tiny").content.decode()

    assert response.status_code == 302
    assert "<h1>Hello</h1>" in page
    assert "<script>alert(1)" not in page and "javascript:alert" not in page
    assert Commit.objects.get().files.get().path == "README.md"
