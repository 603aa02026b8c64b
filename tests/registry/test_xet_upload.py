"""The stock huggingface_hub, with hf_xet and its default settings, uploads a 50 MB checkpoint through the store's
Xet CAS; the commit is validated and downloads byte for byte; a second upload of the same bytes (from a machine
without the first one's cache) sends no xorb bytes; a one-byte edit sends about one chunk; and the reference client
rebuilds a file from the store's reconstruction API."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import hf_xet
import pytest
from django.core.files.storage import default_storage
from huggingface_hub import HfApi, snapshot_download

from registry.models import Blob, Commit, ValidationStatus, XetFile, Xorb
from registry.xet import xorbs
from registry.xet.chunking import MAX_CHUNK
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
WEIGHTS = "model.safetensors"


@pytest.fixture(scope="session")
def large_checkpoint(tiny_checkpoint, tmp_path_factory) -> Path:
    """A GPT-2 of 12.6M parameters: a 50 MB model.safetensors, with the tiny checkpoint's tokenizer."""
    from transformers import AutoTokenizer

    from engine.pretrain import GPTShape, build_gpt2, save_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = build_gpt2(tokenizer, GPTShape(n_layer=4, n_head=8, n_embd=512, n_positions=128))
    directory = save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("large") / "ckpt")
    shutil.copy(tiny_checkpoint / "README.md", directory / "README.md")
    assert 50_000_000 < (directory / WEIGHTS).stat().st_size < 52_000_000
    return directory


def upload_elsewhere(url: str, key: str, repo: str, folder: Path, home: Path) -> None:
    """upload_folder from another process with its own HF_HOME: no local Xet cache of earlier uploads (whose xorbs
    another test's database never held)."""
    script = (
        "import sys; from huggingface_hub import HfApi\n"
        "api = HfApi(endpoint=sys.argv[1], token=sys.argv[2])\n"
        "api.create_repo(sys.argv[3], exist_ok=True)\n"
        "api.upload_folder(repo_id=sys.argv[3], folder_path=sys.argv[4])\n"
    )
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    env.pop("HF_HUB_DISABLE_XET", None)
    result = subprocess.run([sys.executable, "-c", script, url, key, repo, str(folder)], env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def test_upload_folder_with_default_settings_goes_through_xet_and_is_validated(
    live_server, provider, provider_key, large_checkpoint, tmp_path, celery_worker
):
    upload_elsewhere(live_server.url, provider_key, "alice/large-gpt", large_checkpoint, tmp_path / "home")

    commit = Commit.objects.get(model__name="large-gpt")
    done = (ValidationStatus.VALID, ValidationStatus.INVALID)
    wait_until(lambda: Commit.objects.get(pk=commit.pk).validation_status in done, timeout=120)
    commit.refresh_from_db()
    assert commit.validation_status == ValidationStatus.VALID, commit.validation_error
    weights = XetFile.objects.get()  # only the weights are over the 10 MiB of an inline upload
    assert weights.file_hash == hf_xet.hash_files([str(large_checkpoint / WEIGHTS)])[0].hash  # the client's hash
    assert weights.blob == Blob.objects.get(entries__commit=commit, entries__path=WEIGHTS)
    stored = Xorb.objects.get()  # 50 MB of chunks fit one xorb (64 MiB)
    assert stored.raw_bytes == (large_checkpoint / WEIGHTS).stat().st_size
    assert not default_storage.exists(weights.blob.storage_key)  # the weights are kept once: as the xorb's chunks
    provider.refresh_from_db()  # the quota holds what is stored: the xorb and the small files' blobs
    inline = sum(Blob.objects.filter(entries__commit=commit).exclude(pk=weights.blob_id).values_list("size", flat=True))
    assert provider.storage_used_bytes == stored.stored_bytes + inline

    local = snapshot_download("alice/large-gpt", endpoint=live_server.url, cache_dir=tmp_path / "cache")
    for name in os.listdir(large_checkpoint):
        assert filecmp.cmp(large_checkpoint / name, Path(local) / name, shallow=False), name
    script = (
        "import sys, torch; from transformers import AutoModelForCausalLM\n"
        "a = AutoModelForCausalLM.from_pretrained(sys.argv[1]); b = AutoModelForCausalLM.from_pretrained(sys.argv[2])\n"
        "print(all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values())))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(large_checkpoint), local], capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr[-2000:]


def test_the_same_bytes_again_send_no_xorb_and_a_one_byte_edit_sends_about_one_chunk(
    live_server, provider_key, large_checkpoint, tmp_path
):
    upload_elsewhere(live_server.url, provider_key, "alice/first", large_checkpoint, tmp_path / "machine-a")
    first = xorbs.counters()
    assert first["xorb_bytes_received"] == Xorb.objects.get().stored_bytes

    upload_elsewhere(live_server.url, provider_key, "alice/second", large_checkpoint, tmp_path / "machine-b")
    again = xorbs.counters()
    assert again["xorb_bytes_received"] == first["xorb_bytes_received"]  # nothing sent: deduplicated by the store
    assert again["dedupe_hits"] >= 1 and Xorb.objects.count() == 1
    second = Commit.objects.get(model__name="second")
    assert second.files.get(path=WEIGHTS).blob == Commit.objects.get(model__name="first").files.get(path=WEIGHTS).blob

    edited = tmp_path / "edited"
    shutil.copytree(large_checkpoint, edited)
    with open(edited / WEIGHTS, "r+b") as handle:  # one byte in the middle of the weights
        handle.seek(25_000_000)
        byte = handle.read(1)
        handle.seek(25_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    upload_elsewhere(live_server.url, provider_key, "alice/third", edited, tmp_path / "machine-c")
    sent = xorbs.counters()["xorb_bytes_received"] - again["xorb_bytes_received"]
    assert 0 < sent <= 2 * (MAX_CHUNK + 8)  # the edited chunk, and at most its neighbour when a boundary moved
    assert Commit.objects.filter(model__name="third").count() == 1


def test_the_reference_client_rebuilds_a_file_from_the_reconstruction_api(
    live_server, provider_key, large_checkpoint, tmp_path
):
    api = HfApi(endpoint=live_server.url, token=provider_key)
    api.create_repo("alice/large-gpt", private=True)
    upload_elsewhere(live_server.url, provider_key, "alice/large-gpt", large_checkpoint, tmp_path / "home")
    token = api_token(api, "alice/large-gpt", "read")
    weights = XetFile.objects.get()
    size = (large_checkpoint / WEIGHTS).stat().st_size

    from huggingface_hub.utils._xet import get_xet_session

    target = tmp_path / "rebuilt.safetensors"
    with get_xet_session().new_file_download_group(endpoint=token["casUrl"], token=token["accessToken"],
                                                   token_expiry_unix_secs=token["exp"]) as group:  # fmt: skip
        group.start_download_file(hf_xet.XetFileInfo(weights.file_hash, size), str(target))

    assert filecmp.cmp(large_checkpoint / WEIGHTS, target, shallow=False)


def api_token(api: HfApi, repo: str, kind: str) -> dict:
    from huggingface_hub.utils import get_session

    response = get_session().get(f"{api.endpoint}/api/models/{repo}/xet-{kind}-token/main",
                                 headers={"Authorization": f"Bearer {api.token}"})  # fmt: skip
    assert response.status_code == 200, response.text
    return json.loads(response.text)


def test_the_readmes_publish_snippet_uploads_a_large_checkpoint_as_written(live_server, provider_key,
                                                                          large_checkpoint, tmp_path):  # fmt: skip
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("# publish your own checkpoint folder")
    snippet = readme[start : readme.index("\n\n", start)]
    assert "HF_HUB_DISABLE_XET" not in snippet  # no setting beyond the endpoint and the token
    command = (snippet.replace("http://127.0.0.1:8000", live_server.url).replace("gpts_...", provider_key)
               .replace("path/to/checkpoint", str(large_checkpoint)).replace(".venv/bin/python", sys.executable))  # fmt: skip
    env = {**os.environ, "HF_HOME": str(tmp_path / "home"), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    env.pop("HF_HUB_DISABLE_XET", None)

    result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    commit = Commit.objects.get(model__name="my-gpt")
    assert commit.files.get(path=WEIGHTS).blob == XetFile.objects.get().blob
    assert commit.files.get(path=WEIGHTS).blob.size == (large_checkpoint / WEIGHTS).stat().st_size
