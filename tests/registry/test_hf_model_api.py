"""The HF Hub model API that tools read besides the files (issue #22, item 11), with the stock huggingface_hub:
model_info's cardData, tags, safetensors, config, gated and downloads; list_models' search, author, filter, sort,
direction, limit with Link pages, and full/cardData; ModelCard.load."""

import json
import os
import shutil
import subprocess
import sys

import httpx2 as httpx
import pytest
from huggingface_hub import HfApi

from engine.checkpoint import inspect_checkpoint
from registry.models import Commit, Model, ValidationStatus

pytestmark = pytest.mark.django_db(transaction=True)

CARD = """---
license: apache-2.0
base_model: demo/pydoc-gpt
language: [en]
datasets: [pydoc-topics]
tags: [poetry, tiny]
released: 2026-12-01
---
# Poet

Writes short verse.
"""


@pytest.fixture
def poet(live_server, provider_key, tiny_checkpoint, tmp_path):
    """alice/poet: the tiny checkpoint with CARD, validated (its report from the engine's own inspection)."""
    folder = tmp_path / "poet"
    shutil.copytree(tiny_checkpoint, folder)
    (folder / "README.md").write_text(CARD)
    api = HfApi(endpoint=live_server.url, token=provider_key)
    api.create_repo("alice/poet")
    api.upload_folder(repo_id="alice/poet", folder_path=folder)
    report = inspect_checkpoint(folder, load=False)
    Commit.objects.filter(model__name="poet").update(validation_status=ValidationStatus.VALID,
                                                     validation_report=report)  # fmt: skip
    return api, report


def test_model_info_carries_the_card_tags_config_safetensors_and_gating(poet):
    api, report = poet

    info = api.model_info("alice/poet")

    assert (info.card_data.license, info.card_data.base_model) == ("apache-2.0", "demo/pydoc-gpt")
    assert info.card_data.tags == ["poetry", "tiny"] and info.card_data.language == ["en"]
    assert info.card_data["released"] == "2026-12-01"  # a YAML date, as text
    assert info.tags == ["transformers", "safetensors", "gpt2", "text-generation", "poetry", "tiny", "en",
                         "dataset:pydoc-topics", "base_model:demo/pydoc-gpt", "license:apache-2.0"]  # fmt: skip
    assert info.config == {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}
    assert info.safetensors.total == report["parameters"] == 141_056
    assert info.safetensors.parameters == {"F32": 141_056}
    assert (info.gated, info.likes, info.downloads, info.library_name, info.pipeline_tag) == (
        False, 0, 0, "transformers", "text-generation")  # fmt: skip
    assert info.transformers_info.auto_model == "AutoModelForCausalLM"


def test_downloads_count_each_get_and_head_of_config_json(live_server, poet):
    api, _ = poet
    base = f"{live_server.url}/alice/poet/resolve/main"

    assert httpx.head(f"{base}/config.json").status_code == 200
    assert httpx.get(f"{base}/config.json").status_code == 200
    assert httpx.get(f"{base}/model.safetensors").status_code == 200  # weights and other files do not count
    assert httpx.get(f"{base}/tokenizer.json").status_code == 200

    info = api.model_info("alice/poet", expand=["downloads", "downloadsAllTime"])
    assert (info.downloads, info.downloads_all_time) == (2, 2)
    assert [m.downloads for m in api.list_models(author="alice")] == [2]


def test_a_call_only_listing_is_gated(poet):
    from marketplace.services import listings

    api, _ = poet
    listings.publish_now(model=Model.objects.get(name="poet"), prompt_price="1", completion_price="1",
                         is_downloadable=False)  # fmt: skip

    assert api.model_info("alice/poet").gated == "manual"


def test_model_card_load_reads_the_card(live_server, poet, tmp_path):
    """ModelCard.load takes its endpoint from HF_ENDPOINT when huggingface_hub is imported: a fresh process."""
    script = (
        "import json; from huggingface_hub import ModelCard\n"
        "card = ModelCard.load('alice/poet')\n"
        "print(json.dumps({'license': card.data.license, 'base_model': card.data.base_model, 'text': card.text}))"
    )
    env = {**os.environ, "HF_ENDPOINT": live_server.url, "HF_HOME": str(tmp_path / "hf")}

    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    card = json.loads(done.stdout)
    assert (card["license"], card["base_model"]) == ("apache-2.0", "demo/pydoc-gpt")
    assert card["text"].strip() == "# Poet\n\nWrites short verse."


def test_list_models_filters_sorts_and_pages_like_the_hub(live_server, poet, provider, consumer, make_key):
    from registry import services

    for name, tags in (("ballad", "[poetry]"), ("prose", "[stories]"), ("sonnet", "[poetry, tiny]")):
        model = services.create_model(owner=provider, name=name)
        card = f"---\nlicense: mit\ntags: {tags}\n---\n".encode()
        blob = services.ingest_upload(user=provider, incoming_stream=[card], size=len(card))
        services.commit_changes(model_id=model.pk, author=provider, operations=[services.AddFile("README.md", blob)],
                                message="card")  # fmt: skip
    services.create_model(owner=consumer, name="poetry-notes")
    for _ in range(3):
        httpx.get(f"{live_server.url}/alice/poet/resolve/main/config.json")
    anonymous = HfApi(endpoint=live_server.url)

    assert [m.id for m in anonymous.list_models(filter="poetry", sort="createdAt")] == [
        "alice/sonnet", "alice/ballad", "alice/poet"]  # fmt: skip
    assert [m.id for m in anonymous.list_models(filter=["poetry", "tiny"])] == ["alice/sonnet", "alice/poet"]
    assert [m.id for m in anonymous.list_models(filter="license:mit", sort="lastModified")] == [
        "alice/sonnet", "alice/prose", "alice/ballad"]  # fmt: skip
    assert [m.id for m in anonymous.list_models(search="poet")] == ["bob/poetry-notes", "alice/poet"]
    assert [m.id for m in anonymous.list_models(author="bob")] == ["bob/poetry-notes"]
    assert [m.id for m in anonymous.list_models(sort="downloads", limit=2)] == ["alice/poet", "bob/poetry-notes"]
    assert [m.downloads for m in anonymous.list_models(sort="trending_score", limit=1)] == [3]
    full = next(iter(anonymous.list_models(search="alice/son", full=True, cardData=True)))
    assert (full.id, full.card_data.license, full.card_data.tags) == ("alice/sonnet", "mit", ["poetry", "tiny"])


def test_list_models_follows_link_pages(live_server, provider):
    from registry import services

    for index in range(5):
        services.create_model(owner=provider, name=f"m{index}")
    url = f"{live_server.url}/api/models?author=alice&sort=createdAt&direction=1&limit=2"

    first = httpx.get(url)
    second = httpx.get(first.links["next"]["url"])
    third = httpx.get(second.links["next"]["url"])

    assert [m["id"] for m in first.json() + second.json() + third.json()] == [f"alice/m{i}" for i in range(5)]
    assert "next" not in third.links
    every = list(HfApi(endpoint=live_server.url).list_models(author="alice", sort="createdAt"))
    assert len(every) == 5


@pytest.mark.parametrize(("query", "param"), [("sort=stars", "sort"), ("direction=up", "direction"),
                                              ("limit=0", "limit"), ("limit=1001", "limit"), ("cursor=-1", "cursor"),
                                              ("search=a%0Ab", "search")])  # fmt: skip
def test_list_models_refuses_bad_parameters(live_server, query, param):
    response = httpx.get(f"{live_server.url}/api/models?{query}")

    assert response.status_code == 400
    assert param in response.json()["error"]
