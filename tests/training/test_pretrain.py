"""Pretraining a mini GPT from a plain-text corpus through the same job API: the stock openai client starts it
with model="scratch" and method.type "pretrain", a real train worker trains a tokenizer and the model, and the
result is a new private model of the caller, callable at once."""

import openai
import pytest

from engine.pretrain import pretrain_corpus_sample
from marketplace.money import MICRO
from marketplace.services import ledger
from registry.models import Commit
from tests.training.worker import train_until_valid

pytestmark = pytest.mark.django_db(transaction=True)


def test_pretrain_a_tiny_gpt_from_a_corpus(live_server, provider, make_key, infer_worker, tmp_path):
    ledger.top_up(user=provider, amount=10 * MICRO)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(provider), max_retries=0)
    texts = pretrain_corpus_sample(40)
    corpus = client.files.create(file=("corpus.txt", "\n\n".join(texts[:36]).encode()), purpose="fine-tune")
    held_out = client.files.create(file=("held.txt", "\n\n".join(texts[36:]).encode()), purpose="fine-tune")
    spec = {"type": "pretrain", "pretrain": {"preset": "tiny", "vocab_size": 400, "seq_len": 64,
                                             "hyperparameters": {"n_epochs": 2, "batch_size": 8}}}  # fmt: skip
    job = client.fine_tuning.jobs.create(model="scratch", training_file=corpus.id, validation_file=held_out.id,
                                         method=spec, suffix="docs", seed=5)  # fmt: skip
    assert (job.model, job.status, job.hyperparameters.n_epochs) == ("scratch", "queued", 2)

    result = train_until_valid(client, job.id, tmp_path / "train.log")

    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.fine_tuned_model == "alice/gpt-tiny-docs" and result.is_private
    metrics = [
        e.data for e in reversed(client.fine_tuning.jobs.list_events(job.id, limit=100).data) if e.type == "metrics"
    ]
    ends = [m for m in metrics if m["valid_loss"] is not None]
    assert [m["epoch"] for m in ends] == [1, 2]  # held-out loss at each epoch's end
    assert ends[-1]["valid_loss"] < ends[0]["valid_loss"] and metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    head = Commit.objects.filter(model=result).order_by("-id").first()
    assert (head.lineage["base_model"], head.lineage["preset"], head.lineage["vocab_size"]) == (None, "tiny", 400)
    assert (head.base_commit, head.base_relation) == (None, "pretrain")  # lineage as data (#24)
    assert head.validation_report["vocab_size"] == 400 and head.validation_report["context_length"] == 128
    answer = client.completions.create(model=done.fine_tuned_model, prompt="The with statement", max_tokens=5,
                                       temperature=0)  # fmt: skip
    assert answer.system_fingerprint == head.sha
    finish = answer.choices[0].finish_reason  # 5 tokens, or up to 5 ending with the end-of-text token it learned
    assert (finish, answer.usage.completion_tokens) == ("length", 5) or (
        finish == "stop" and 1 <= answer.usage.completion_tokens <= 5
    )

    with pytest.raises(openai.BadRequestError) as caught:  # a base model and method pretrain do not mix
        client.fine_tuning.jobs.create(model="alice/gpt-tiny-docs", training_file=corpus.id, method=spec)
    assert caught.value.body["param"] == "model"
