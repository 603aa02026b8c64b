"""`/api/v1/models/{ns}/{name}/evaluations`: the verified results of a revision, with the model's visibility, the
evaluation under way, and the card's claims apart; the owner asks again with POST."""

import json

import pytest

from core import outbox
from evaluation.models import Evaluation
from jobs.models import Job
from registry import services as registry
from registry.models import Commit, ValidationStatus
from tests.conftest import commit_valid_checkpoint, record_evaluation

pytestmark = pytest.mark.django_db

CARD = """---
license: mit
model-index:
- name: tiny-gpt
  results:
  - task: {type: text-generation}
    dataset: {name: WikiText-2, type: wikitext}
    metrics:
    - {type: perplexity, value: 12.5}
---
# Tiny
"""


def get(client, url, key=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return client.get(url, **headers)


def test_the_results_of_a_revision_as_json(client, provider, tiny_checkpoint):
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)
    registry.commit_card(model_id=commit.model_id, author=provider, content=CARD)
    head = Commit.objects.filter(model=commit.model).order_by("-id").first()
    Commit.objects.filter(pk=head.pk).update(validation_status=ValidationStatus.VALID)
    record_evaluation(head, bits_per_byte=1.5)
    answer = client.get(f"/api/v1/models/alice/tiny-gpt/evaluations?revision={commit.sha}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["commit"] == commit.sha and body["model"] == "alice/tiny-gpt"
    [item] = body["data"]
    stored = Evaluation.objects.get(commit=commit)
    assert item == {
        "object": "model.evaluation", "commit": commit.sha,
        "dataset": {"name": "pkgdocs", "version": "1", "sha256": stored.dataset_sha256, "kind": "standard"},
        "form": "text", "status": "succeeded", "verified": True, "device": "cpu: test", "method_version": "1",
        "duration_seconds": 0.0, "metrics": stored.metrics, "reports": {}, "error": None, "job": None,
        "created": int(stored.created_at.timestamp()),
    }  # fmt: skip
    main = client.get("/api/v1/models/alice/tiny-gpt/evaluations").json()  # main: the card's commit
    assert main["commit"] == head.sha and main["data"][0]["metrics"]["bits_per_byte"] == 1.5
    assert main["claimed"] == [{"dataset": "WikiText-2", "metric": "perplexity", "value": 12.5, "verified": False}]


def test_a_private_models_results_are_not_found_for_others(client, provider, outsider, make_key, tiny_checkpoint):
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)
    registry.set_visibility(model_id=commit.model_id, is_private=True)
    missing = client.get("/api/v1/models/alice/nothing/evaluations")
    for key in (None, make_key(outsider)):
        answer = get(client, "/api/v1/models/alice/tiny-gpt/evaluations", key)
        same = json.loads(json.dumps(missing.json()).replace("alice/nothing", "alice/tiny-gpt"))
        assert (answer.status_code, answer.json()) == (404, same)  # as for a model that does not exist
    assert get(client, "/api/v1/models/alice/tiny-gpt/evaluations", make_key(provider)).status_code == 200


def test_the_owner_asks_again_and_others_cannot(client, provider, outsider, make_key, tiny_checkpoint):
    commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)
    url = "/api/v1/models/alice/tiny-gpt/evaluations"
    refused = client.post(url, HTTP_AUTHORIZATION=f"Bearer {make_key(outsider)}")
    assert refused.status_code == 404 and Job.objects.count() == 0
    read_only = client.post(url, HTTP_AUTHORIZATION=f"Bearer {make_key(provider, scopes=('read',))}")
    assert read_only.status_code == 403 and Job.objects.count() == 0
    asked = client.post(url, HTTP_AUTHORIZATION=f"Bearer {make_key(provider)}")
    job = Job.objects.get(kind="evaluate")
    assert asked.status_code == 202
    assert asked.json() == {"object": "model.evaluation_job", "id": job.public_id, "commit": job.base_commit.sha,
                            "status": "queued"}  # fmt: skip
    again = client.post(url, HTTP_AUTHORIZATION=f"Bearer {make_key(provider)}")
    assert again.json()["id"] == job.public_id and Job.objects.count() == 1
    pending = client.get(url).json()["data"][0]
    assert (pending["status"], pending["job"], pending["metrics"]) == ("queued", job.public_id, {})


def test_a_bad_revision_answers_404_and_a_long_one_400(client, provider, tiny_checkpoint):
    commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)
    assert client.get("/api/v1/models/alice/tiny-gpt/evaluations?revision=nope").status_code == 404
    answer = client.get("/api/v1/models/alice/tiny-gpt/evaluations?revision=" + "a" * 101)
    assert answer.status_code == 400 and "revision" in json.dumps(answer.json())


def test_a_commit_that_becomes_valid_is_queued_for_evaluation(
    provider, tiny_checkpoint, django_capture_on_commit_callbacks
):
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128, evaluated=False)
    with django_capture_on_commit_callbacks(execute=False):
        outbox.record("commit.validated", commit_id=commit.pk, valid=True)
        outbox.record("commit.validated", commit_id=commit.pk, valid=True)  # delivered twice: one job
    outbox.deliver_due()
    job = Job.objects.get(kind="evaluate")
    assert (job.base_commit_id, job.status, job.owner_id, job.held) == (commit.pk, "queued", provider.pk, 0)
    assert job.events.first().message == f"Created evaluation {job.public_id} of alice/tiny-gpt@{commit.sha}"
