"""A fine-tune end to end with the stock clients and a real train worker process: the openai client uploads a
file and starts the job, the worker trains and commits each epoch, the result is validated like any upload, then
called through /v1 and pulled by its owner with huggingface_hub."""

import json
import os

import huggingface_hub
import openai
import pytest
from huggingface_hub.errors import RepositoryNotFoundError

from marketplace.models import AccountKind
from marketplace.money import MICRO
from marketplace.services import ledger
from marketplace.services.job_charges import training_cost
from registry.models import Blob, Commit
from tests.training.worker import train_until_valid
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = "\n".join(json.dumps({"prompt": f"Question {i % 4}:", "completion": " yes yes yes"}) for i in range(12))


def test_fine_tune_through_the_openai_client(live_server, provider, make_key, outsider, served_commit, infer_worker,
                                             tmp_path):  # fmt: skip
    ledger.top_up(user=provider, amount=10 * MICRO)
    key = make_key(provider, scopes=("read", "finetune", "infer"))
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0)
    before = client.completions.create(model="alice/tiny-gpt", prompt="Question 1:", max_tokens=3, temperature=0)

    data = client.files.create(file=("qa.jsonl", EXAMPLES.encode()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="alice/tiny-gpt", training_file=data.id, seed=3,
        method={"type": "supervised", "supervised": {"hyperparameters": {
            "n_epochs": 5, "batch_size": 4, "learning_rate_multiplier": 50}}},
    )  # fmt: skip
    result = train_until_valid(client, job.id, tmp_path / "train.log")

    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.fine_tuned_model == result.repo_id == f"alice/tiny-gpt-ft-{job.id.removeprefix('ftjob-')[:12]}"
    assert result.is_private
    assert done.trained_tokens == FineTuningJob.objects.get().trained_tokens > 0
    metrics = [
        e.data for e in reversed(client.fine_tuning.jobs.list_events(job.id, limit=100).data) if e.type == "metrics"
    ]
    assert [m["step"] for m in metrics] == [3, 6, 9, 10, 12, 15]  # each epoch's end (3 steps), and every 10 steps
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [15, 12, 9]  # the last three; 3 and 6 were pruned
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{result.repo_id}@ckpt-step-15"
    assert Commit.objects.filter(model=result).count() == 3
    assert sorted(Commit.objects.filter(model=result).values_list("refs__name", flat=True)) == [
        "ckpt-step-12",
        "ckpt-step-15",
        "ckpt-step-9",
        "main",
    ]
    pruned = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data if "Pruned" in e.message]
    assert len(pruned) == 2
    dataset_blob = FineTuningJob.objects.get().training_file.blob_id
    orphans = Blob.objects.filter(entries__isnull=True).exclude(pk=dataset_blob)
    assert list(orphans) == []  # the pruned epochs' weights left the blob store with their commits
    head = Commit.objects.filter(model=result).order_by("-id").first()
    assert head.lineage["parent_commit"] == served_commit.sha
    assert (head.base_commit, head.base_relation) == (served_commit, "finetune")  # lineage as data (#24)
    assert head.lineage["training_file_sha256"] == FineTuningJob.objects.get().training_file.blob.sha256
    assert head.lineage["hyperparameters"] == {"n_epochs": 5, "batch_size": 4, "learning_rate_multiplier": 50.0}
    card = head.files.get(path="README.md")
    assert b"base_model: alice/tiny-gpt\nbase_model_relation: finetune" in _read(card.blob)

    charged = training_cost(done.trained_tokens)
    wallet = ledger.account_for(provider.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO - charged, 0)

    after = client.completions.create(model=done.fine_tuned_model, prompt="Question 1:", max_tokens=3, temperature=0)
    assert after.choices[0].text != before.choices[0].text
    assert after.system_fingerprint == head.sha
    at_checkpoint = client.completions.create(model=checkpoints[-1].fine_tuned_model_checkpoint, prompt="Question 1:",
                                              max_tokens=3, temperature=0)  # fmt: skip
    assert at_checkpoint.system_fingerprint == Commit.objects.get(refs__name="ckpt-step-9").sha

    folder = huggingface_hub.snapshot_download(result.repo_id, endpoint=live_server.url, token=key,
                                               cache_dir=tmp_path / "hub")  # fmt: skip
    with open(os.path.join(folder, "model.safetensors"), "rb") as handle:
        assert handle.read() == _read(head.files.get(path="model.safetensors").blob)
    with pytest.raises(RepositoryNotFoundError):
        huggingface_hub.snapshot_download(result.repo_id, endpoint=live_server.url, cache_dir=tmp_path / "other",
                                          token=make_key(outsider, scopes=("read",)))  # fmt: skip


def _read(blob) -> bytes:
    from registry.storage import open_blob

    with open_blob(blob) as handle:
        return handle.read()
