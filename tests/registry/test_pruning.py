"""Dropping a commit from history: never one a ref points at; its child is re-linked; blobs still used elsewhere
stay; the bytes dropped go back to the owner's quota."""

import pytest

from accounts.models import User
from core.exceptions import Conflict
from registry import pruning
from registry import services as registry
from registry.models import Blob, Commit, Ref

pytestmark = pytest.mark.django_db


def commit_files(model, owner, files: dict[str, bytes], message: str):
    operations = []
    for path, data in files.items():
        blob = registry.ingest_upload(user=owner, incoming_stream=[data], size=len(data))
        operations.append(registry.AddFile(path=path, blob=blob))
    return registry.commit_changes(model_id=model.pk, author=owner, operations=operations, message=message)


def test_a_middle_commit_is_dropped_with_the_blobs_only_it_held(provider):
    model = registry.create_model(owner=provider, name="m")
    first = commit_files(model, provider, {"config.json": b"{}", "w.bin": b"A" * 100}, "one")
    middle = commit_files(model, provider, {"w.bin": b"B" * 200}, "two")
    last = commit_files(model, provider, {"w.bin": b"C" * 300}, "three")
    used_before = User.objects.get(pk=provider.pk).storage_used_bytes

    assert pruning.drop_commit(commit_id=middle.pk) == 200

    last.refresh_from_db()
    assert last.parent_id == first.pk
    assert not Commit.objects.filter(pk=middle.pk).exists()
    assert not Blob.objects.filter(size=200).exists()  # only the dropped commit held B
    assert Blob.objects.filter(size=2).exists()  # config.json is in every commit: it stays
    assert User.objects.get(pk=provider.pk).storage_used_bytes == used_before - 200


def test_a_commit_a_ref_points_at_stays_and_nothing_changes(provider):
    model = registry.create_model(owner=provider, name="m")
    first = commit_files(model, provider, {"w.bin": b"A" * 100}, "one")
    registry.create_tag(model_id=model.pk, name="v1", revision=first.sha)
    commit_files(model, provider, {"w.bin": b"B" * 100}, "two")
    before = (Commit.objects.count(), Blob.objects.count(), list(Ref.objects.values_list("name", "commit_id")))

    with pytest.raises(Conflict):
        pruning.drop_commit(commit_id=first.pk)
    with pytest.raises(Conflict):
        pruning.drop_commit(commit_id=Ref.objects.get(name="main").commit_id)

    assert (Commit.objects.count(), Blob.objects.count(), list(Ref.objects.values_list("name", "commit_id"))) == before
