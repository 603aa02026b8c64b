"""The stock huggingface_hub, with hf_xet and its default settings, uploads through the store's Xet CAS."""

import filecmp
import os

import pytest
from huggingface_hub import HfApi, snapshot_download

from registry.models import Commit

pytestmark = pytest.mark.django_db(transaction=True)


def test_upload_folder_with_default_settings_goes_through_xet(live_server, provider_key, tiny_checkpoint, tmp_path,
                                                              settings):  # fmt: skip
    settings.REGULAR_UPLOAD_MAX_BYTES = 1024
    api = HfApi(endpoint=live_server.url, token=provider_key)
    api.create_repo("alice/tiny-gpt")

    api.upload_folder(repo_id="alice/tiny-gpt", folder_path=tiny_checkpoint)

    local = snapshot_download("alice/tiny-gpt", endpoint=live_server.url, cache_dir=tmp_path / "cache")
    assert filecmp.cmp(tiny_checkpoint / "model.safetensors", os.path.join(local, "model.safetensors"), shallow=False)
    assert Commit.objects.filter(model__name="tiny-gpt").count() == 1
