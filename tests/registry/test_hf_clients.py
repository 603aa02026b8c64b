"""Acceptance with the stock clients: huggingface_hub and transformers against a live server."""

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from registry.models import Blob, Commit, Model

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_repo_upload_folder_and_snapshot_download_round_trip(
    live_server, provider_key, tiny_checkpoint, tmp_path
):
    api = HfApi(endpoint=live_server.url, token=provider_key)

    url = api.create_repo("alice/tiny-gpt")
    info = api.upload_folder(repo_id="alice/tiny-gpt", folder_path=tiny_checkpoint, commit_message="First upload")

    assert url.repo_id == "alice/tiny-gpt"
    commit = Commit.objects.get(model__name="tiny-gpt")
    assert info.oid == commit.sha and len(commit.sha) == 40
    assert commit.message == "First upload"
    local = snapshot_download("alice/tiny-gpt", endpoint=live_server.url, cache_dir=tmp_path / "cache")
    expected = sorted(p.name for p in tiny_checkpoint.iterdir())
    assert sorted(os.listdir(local)) == expected
    for name in expected:
        assert filecmp.cmp(tiny_checkpoint / name, os.path.join(local, name), shallow=False), name


def test_model_info_and_tree_describe_the_commit(live_server, provider_key, tiny_checkpoint):
    api = HfApi(endpoint=live_server.url, token=provider_key)
    api.create_repo("alice/tiny-gpt", private=True)
    api.upload_folder(repo_id="alice/tiny-gpt", folder_path=tiny_checkpoint)

    info = api.model_info("alice/tiny-gpt")
    files = list(api.list_repo_tree("alice/tiny-gpt", recursive=True))

    commit = Commit.objects.get(model__name="tiny-gpt")
    assert info.id == "alice/tiny-gpt" and info.sha == commit.sha and info.private is True
    assert sorted(s.rfilename for s in info.siblings) == sorted(p.name for p in tiny_checkpoint.iterdir())
    weights = next(f for f in files if f.path == "model.safetensors")
    assert weights.size == (tiny_checkpoint / "model.safetensors").stat().st_size
    assert weights.lfs.sha256 == Blob.objects.get(entries__path="model.safetensors").sha256


def test_transformers_loads_and_generates_through_hf_endpoint(live_server, provider_key, tiny_checkpoint, tmp_path):
    HfApi(endpoint=live_server.url, token=provider_key).create_repo("alice/tiny-gpt")
    HfApi(endpoint=live_server.url, token=provider_key).upload_folder(
        repo_id="alice/tiny-gpt", folder_path=tiny_checkpoint
    )
    script = (
        "import json; from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "tok = AutoTokenizer.from_pretrained('alice/tiny-gpt')\n"
        "model = AutoModelForCausalLM.from_pretrained('alice/tiny-gpt')\n"
        "out = model.generate(**tok('The', return_tensors='pt'), max_new_tokens=5, do_sample=False)\n"
        "print(json.dumps({'new_tokens': out.shape[1] - 1, 'params': model.num_parameters()}))\n"
    )
    env = {
        **os.environ,
        "HF_ENDPOINT": live_server.url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    env.pop("HF_TOKEN", None)

    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"new_tokens": 5, "params": 141056}


def test_large_files_go_through_lfs_with_signed_upload_urls(
    live_server, provider_key, tiny_checkpoint, tmp_path, settings, monkeypatch
):
    settings.REGULAR_UPLOAD_MAX_BYTES = 1024  # model.safetensors and tokenizer.json now travel through LFS
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_DISABLE_XET", True)  # what HF_HUB_DISABLE_XET=1 sets
    api = HfApi(endpoint=live_server.url, token=provider_key)
    api.create_repo("alice/tiny-gpt")

    api.upload_folder(repo_id="alice/tiny-gpt", folder_path=tiny_checkpoint)

    local = snapshot_download("alice/tiny-gpt", endpoint=live_server.url, cache_dir=tmp_path / "cache")
    assert filecmp.cmp(tiny_checkpoint / "model.safetensors", os.path.join(local, "model.safetensors"), shallow=False)
    assert Model.objects.get(name="tiny-gpt").commits.count() == 1


def test_private_repo_is_not_found_for_others_and_found_for_owner(
    live_server, provider_key, consumer, make_key, tiny_checkpoint
):
    owner_api = HfApi(endpoint=live_server.url, token=provider_key)
    owner_api.create_repo("alice/secret", private=True)
    owner_api.upload_folder(repo_id="alice/secret", folder_path=tiny_checkpoint)
    stranger = HfApi(endpoint=live_server.url, token=make_key(consumer))
    anonymous = HfApi(endpoint=live_server.url, token=False)

    for api in (stranger, anonymous):
        with pytest.raises(RepositoryNotFoundError):
            api.model_info("alice/secret")
        with pytest.raises(RepositoryNotFoundError):
            api.hf_hub_download("alice/secret", "config.json")
    assert owner_api.model_info("alice/secret").private is True


def test_unknown_revision_and_file_raise_the_clients_errors(live_server, provider_key, tiny_checkpoint, tmp_path):
    api = HfApi(endpoint=live_server.url, token=provider_key)
    api.create_repo("alice/tiny-gpt")
    api.upload_folder(repo_id="alice/tiny-gpt", folder_path=tiny_checkpoint)

    with pytest.raises(RevisionNotFoundError):
        api.hf_hub_download("alice/tiny-gpt", "config.json", revision="nope", cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download("alice/tiny-gpt", "missing.json", cache_dir=tmp_path)


def test_whoami_reports_the_keys_owner(live_server, provider_key):
    me = HfApi(endpoint=live_server.url, token=provider_key).whoami()

    assert me["name"] == "alice"
    assert me["auth"]["accessToken"]["role"] == "write"


def test_tags_pin_a_revision_for_download(live_server, provider_key, tiny_checkpoint, tmp_path):
    api = HfApi(endpoint=live_server.url, token=provider_key)
    api.create_repo("alice/tiny-gpt")
    first = api.upload_folder(repo_id="alice/tiny-gpt", folder_path=tiny_checkpoint).oid
    api.create_tag("alice/tiny-gpt", tag="v1")
    api.upload_file(path_or_fileobj=b"changed", path_in_repo="README.md", repo_id="alice/tiny-gpt")

    refs = api.list_repo_refs("alice/tiny-gpt")
    old_card = api.hf_hub_download("alice/tiny-gpt", "README.md", revision="v1", cache_dir=tmp_path)
    new_card = api.hf_hub_download("alice/tiny-gpt", "README.md", cache_dir=tmp_path)

    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1", first)]
    assert [b.name for b in refs.branches] == ["main"] and refs.branches[0].target_commit != first
    assert Path(old_card).read_bytes() == (tiny_checkpoint / "README.md").read_bytes()
    assert Path(new_card).read_bytes() == b"changed"
    with pytest.raises(Exception, match="409"):
        api.create_tag("alice/tiny-gpt", tag="v1")
    api.delete_tag("alice/tiny-gpt", tag="v1")
    assert api.list_repo_refs("alice/tiny-gpt").tags == []


def test_a_call_only_listing_withholds_the_weights_from_everyone_but_the_owner(
    live_server, provider, provider_key, consumer, make_key, served_commit, tmp_path
):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError

    from marketplace.services import listings

    listing = listings.save_listing(model=served_commit.model, by=provider, title="Tiny GPT", license="mit")
    consumer_key = make_key(consumer, scopes=("read",))
    fetch = dict(repo_id="alice/tiny-gpt", endpoint=live_server.url, revision=served_commit.sha)

    with pytest.raises(GatedRepoError):
        hf_hub_download(filename="model.safetensors", token=consumer_key, cache_dir=tmp_path / "bob", **fetch)
    with pytest.raises(GatedRepoError):
        hf_hub_download(filename="model.safetensors", token=False, cache_dir=tmp_path / "anonymous", **fetch)
    config = hf_hub_download(filename="config.json", token=consumer_key, cache_dir=tmp_path / "bob", **fetch)
    own = hf_hub_download(filename="model.safetensors", token=provider_key, cache_dir=tmp_path / "alice", **fetch)

    assert json.loads(Path(config).read_text())["model_type"] == "gpt2"
    assert os.path.getsize(own) == served_commit.files.get(path="model.safetensors").blob.size
    bob_blobs = sorted((tmp_path / "bob" / "models--alice--tiny-gpt" / "blobs").iterdir())
    assert [os.path.getsize(p) for p in bob_blobs] == [os.path.getsize(config)]  # only the config reached bob
    listings.save_listing(model=served_commit.model, by=provider, title="Tiny GPT", license="mit",
                          is_downloadable=True)  # fmt: skip
    weights = hf_hub_download(filename="model.safetensors", token=consumer_key, cache_dir=tmp_path / "bob", **fetch)
    assert os.path.getsize(weights) == os.path.getsize(own)
    assert listing.is_downloadable is False  # what it was while the weights were withheld


def test_a_download_price_is_charged_once_per_consumer_and_commit(
    live_server, provider, consumer, outsider, make_key, served_commit, tmp_path
):
    import urllib.error
    import urllib.request

    from huggingface_hub import hf_hub_download

    from marketplace.models import AccountKind, LedgerTransaction, ProviderEarningsDaily
    from marketplace.money import MICRO
    from marketplace.services import ledger, listings

    listings.publish_now(model=served_commit.model, prompt_price="0", completion_price="0", download_price="0.5",
                         is_downloadable=True)  # fmt: skip
    ledger.top_up(user=consumer, amount=1 * MICRO)
    ledger.top_up(user=outsider, amount=MICRO // 10)
    fetch = dict(repo_id="alice/tiny-gpt", endpoint=live_server.url, revision=served_commit.sha)
    weights_url = f"{live_server.url}/alice/tiny-gpt/resolve/{served_commit.sha}/model.safetensors"

    first = hf_hub_download(filename="model.safetensors", token=make_key(consumer, scopes=("read",)),
                            cache_dir=tmp_path / "bob", **fetch)  # fmt: skip
    again = hf_hub_download(filename="model.safetensors", token=make_key(consumer, scopes=("read",)),
                            cache_dir=tmp_path / "bob-again", **fetch)  # fmt: skip
    config = hf_hub_download(filename="config.json", token=False, cache_dir=tmp_path / "anonymous", **fetch)

    def refused(headers):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(urllib.request.Request(weights_url, headers=headers))
        return error.value.code, json.loads(error.value.read())["error"]

    anonymous = refused({})
    poor = refused({"Authorization": f"Bearer {make_key(outsider, scopes=('read',))}"})

    assert (
        os.path.getsize(first) == os.path.getsize(again) == served_commit.files.get(path="model.safetensors").blob.size
    )
    assert os.path.getsize(config) > 0  # configs and tokenizers are free
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.spent) == (MICRO // 2, MICRO // 2)  # 0.5 credits, once
    assert ledger.account_for(provider.pk, AccountKind.EARNINGS).balance == 400_000  # minus the 20 % fee
    assert LedgerTransaction.objects.filter(idempotency_key__startswith="download:").count() == 1
    day = ProviderEarningsDaily.objects.get(provider=provider, commit_sha=served_commit.sha)
    assert (day.requests, day.gross, day.earnings, day.fee) == (1, 500_000, 400_000, 100_000)
    assert anonymous[0] == 401 and "costs 0.500000 credits" in anonymous[1]
    assert poor[0] == 402 and "top up" in poor[1]
    assert ledger.account_for(outsider.pk, AccountKind.WALLET).balance == MICRO // 10  # nothing taken
    assert ledger.audit_ledger().ok


def test_a_keys_spend_cap_counts_its_downloads(
    live_server, provider, consumer, make_key, served_commit, tiny_checkpoint
):
    import urllib.error
    import urllib.request

    from accounts.models import ApiKey
    from marketplace.models import AccountKind, LedgerTransaction
    from marketplace.money import MICRO
    from marketplace.services import ledger, limits, listings
    from tests.conftest import commit_valid_checkpoint

    second = commit_valid_checkpoint(provider, "tiny-two", tiny_checkpoint, context_length=128)
    for commit in (served_commit, second):
        listings.publish_now(model=commit.model, prompt_price="0", completion_price="0", download_price="0.5",
                             is_downloadable=True)  # fmt: skip
    ledger.top_up(user=consumer, amount=MICRO)
    token = make_key(consumer, scopes=("read",))
    ApiKey.objects.filter(user=consumer).update(spend_limit=600_000, spend_period="day")  # 0.6 credits a day

    def fetch(commit):
        url = f"{live_server.url}/{commit.model.repo_id}/resolve/{commit.sha}/model.safetensors"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})):
                return 200, ""
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())["error"]

    paid = fetch(served_commit)
    over = fetch(second)
    limits.client().flushdb()  # Redis lost the counter: it is rebuilt from the rollups, the download included
    still_over = fetch(second)

    assert paid == (200, "")
    assert over[0] == still_over[0] == 429 and "spend limit of 0.600000" in over[1]
    assert ledger.account_for(consumer.pk, AccountKind.WALLET).balance == MICRO - 500_000  # the first, only
    assert LedgerTransaction.objects.filter(idempotency_key__startswith="download:").count() == 1
    assert fetch(served_commit) == (200, "")  # paid already: free again, and within the cap
