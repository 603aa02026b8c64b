"""Model cards' YAML front matter (issue #22, item 2): read with bounds on depth, size and aliases, refused at
commit time with a reason when it cannot be read, and never able to break a page once stored."""

import base64
import json

import pytest

from registry import services
from registry.cards import front_matter_problem, parse_front_matter
from registry.models import Commit

pytestmark = pytest.mark.django_db

DEEP_FLOW = "---\nmeta: " + "[" * 3000 + "]" * 3000 + "\n---\n# Deep\n"
DEEP_BLOCK = "---\n" + "".join(" " * level + "a:\n" for level in range(40)) + " " * 40 + "b: 1\n---\n"
ALIASES = "---\nbase: &b [1, 2]\nlaughs: [*b, *b]\n---\n"
MODEL_INDEX = """---
license: mit
base_model: demo/pydoc-gpt
tags: [gpt2, text-generation]
model-index:
- name: tiny
  results:
  - task: {type: text-generation}
    dataset: {name: wikitext, type: wikitext}
    metrics:
    - {type: perplexity, value: 12.5}
---
# Tiny
"""


@pytest.fixture
def repo(provider):
    model = services.create_model(owner=provider, name="tiny")
    services.commit_card(model_id=model.pk, author=provider, content="# Tiny\n")
    return model


def test_a_card_with_model_index_reads_as_its_metadata():
    meta, body = parse_front_matter(MODEL_INDEX)

    assert meta["model-index"][0]["results"][0]["metrics"][0] == {"type": "perplexity", "value": 12.5}
    assert (meta["license"], meta["tags"], body) == ("mit", ["gpt2", "text-generation"], "# Tiny\n")


@pytest.mark.parametrize(
    ("text", "reason"),
    [(DEEP_FLOW, "nested over 32 levels deep"), (DEEP_BLOCK, "nested over 32 levels deep"),
     (ALIASES, "uses an alias"), ("---\n" + "k: " + "x" * 70_000 + "\n---\n", "over 64,000 bytes"),
     ("---\n- a\n- b\n---\n", "must be a YAML mapping"), ("---\na: [\n---\n", "invalid YAML"),
     ("---\na: 1\n", "no closing '---' line"), ("---\nx: !!python/object:os.system {}\n---\n", "invalid YAML")],
    ids=["deep-flow", "deep-block", "aliases", "big", "list", "broken", "unclosed", "python-tag"],
)  # fmt: skip
def test_front_matter_that_cannot_be_read_is_named(text, reason):
    assert reason in front_matter_problem(text)


def test_validate_yaml_with_5000_levels_is_400_with_the_reason(probe, provider_key):
    content = "---\na: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n---\n"

    response = probe.post("/api/validate-yaml", {"content": content, "repoType": "model"},
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {provider_key}")  # fmt: skip

    assert response.status_code == 400
    assert response.json()["errors"] == [{"message": "the YAML front matter is nested over 32 levels deep"}]


def test_an_hf_commit_with_a_deep_card_is_refused_and_stores_nothing(probe, repo, provider_key):
    lines = [{"key": "header", "value": {"summary": "deep card"}},
             {"key": "file", "value": {"path": "README.md", "content": base64.b64encode(DEEP_FLOW.encode()).decode(),
                                       "encoding": "base64"}}]  # fmt: skip
    body = "\n".join(json.dumps(line) for line in lines) + "\n"

    response = probe.post("/api/models/alice/tiny/commit/main", body, content_type="application/x-ndjson",
                          HTTP_AUTHORIZATION=f"Bearer {provider_key}")  # fmt: skip

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"] == "README.md: the YAML front matter is nested over 32 levels deep"
    assert Commit.objects.filter(model=repo).count() == 1


def test_the_card_editor_refuses_a_deep_card_with_a_form_error(client, provider, repo):
    client.force_login(provider)

    response = client.post("/alice/tiny/edit", {"content": DEEP_FLOW})

    assert response.status_code == 200
    assert "README.md: the YAML front matter is nested over 32 levels deep" in response.content.decode()
    assert Commit.objects.filter(model=repo).count() == 1


def test_a_stored_card_that_cannot_be_read_shows_as_text_with_a_note(probe, provider, repo, monkeypatch):
    """A card stored before these checks (simulated by skipping the commit-time check) answered 500 on the model
    page for everyone until it was fixed."""
    monkeypatch.setattr(services, "_check_card", lambda operations: None)
    services.commit_card(model_id=repo.pk, author=provider, content=DEEP_FLOW)

    page = probe.get("/alice/tiny")
    info = probe.get("/api/models/alice/tiny")

    assert page.status_code == 200
    html = page.content.decode()
    assert "This card's metadata could not be read (the YAML front matter is nested over 32 levels" in html
    assert "meta: [[[[" in html and "<h1>Deep</h1>" in html
    assert info.status_code == 200 and info.json()["cardData"] == {}
    assert info.json()["tags"] == ["transformers", "text-generation"]
