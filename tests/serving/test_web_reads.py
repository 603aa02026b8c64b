"""A web process reads only what it needs (#24): to count and check a prompt it checks out the served commit's
tokenizer files, never its weights. The store's own storage class here counts every file it is asked for, whether
as a local path (checkout links it) or opened (remote storage copies it)."""

import pytest
from django.core.files.storage import FileSystemStorage

from registry.models import Blob
from serving import gateway
from tests.conftest import commit_valid_checkpoint

pytestmark = pytest.mark.django_db


class CountingStorage(FileSystemStorage):
    """Local storage that keeps the name of every file asked for by path or opened."""

    asked: list[str] = []

    def path(self, name):
        CountingStorage.asked.append(name)
        return super().path(name)

    def _open(self, name, mode="rb"):
        CountingStorage.asked.append(name)
        return super()._open(name, mode)


@pytest.fixture
def counting_storage(settings):
    default = settings.STORAGES["default"]
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "BACKEND": f"{__name__}.CountingStorage"}}
    CountingStorage.asked = []
    return CountingStorage.asked


def test_tokenizing_for_metering_reads_the_tokenizer_files_and_no_weights(counting_storage, provider, tiny_checkpoint):
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)
    key_of = {entry.path: Blob.objects.get(pk=entry.blob_id).storage_key for entry in commit.files.all()}
    counting_storage.clear()  # what the upload itself read is not the question

    tokenizer = gateway.tokenizer_of(commit)

    assert tokenizer.encode("def main():")  # a working tokenizer, from the files it read
    assert sorted(set(counting_storage)) == sorted(key_of[path] for path in ("tokenizer.json", "tokenizer_config.json"))
    assert "model.safetensors" in key_of and key_of["model.safetensors"] not in counting_storage
