"""LoRA fine-tuning (`method.supervised.lora`, our extension): peft adapters trained on the named modules only,
saved merged into full weights that the stock transformers loader reads, with gradient checkpointing off again in
what is saved; and a LoRA job end to end with the openai client and a real train worker."""

import json

import openai
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from engine import finetune
from marketplace.money import MICRO
from marketplace.services import ledger
from registry.models import Commit
from tests.training.worker import train_until_valid

LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["c_attn"]}
RECORDS = [{"prompt": f"Question {i % 4}:", "completion": " yes yes yes"} for i in range(12)]


def test_lora_trains_only_its_modules_and_saves_plain_merged_weights(tiny_checkpoint, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    saved = []
    hyper = finetune.Hyperparameters(n_epochs=2, batch_size=4, learning_rate_multiplier=20.0, seed=5, lora=LORA)

    finetune.finetune(model, tokenizer, RECORDS, hyper,
                      on_checkpoint=lambda metrics, save: saved.append(save(tmp_path / f"epoch-{metrics.epoch}")))  # fmt: skip

    assert model.is_activation_checkpointing  # trained recomputing activations (bench/train.py: the memory it saves)
    base = load_file(tiny_checkpoint / "model.safetensors")
    merged = load_file(saved[-1] / "model.safetensors")
    assert sorted(merged) == sorted(base)  # no adapter tensors: every stock client loads it
    changed = sorted(name for name in base if not torch.equal(base[name], merged[name]))
    assert changed == ["transformer.h.0.attn.c_attn.weight", "transformer.h.1.attn.c_attn.weight"]
    config = json.loads((saved[-1] / "config.json").read_text())
    assert "gradient_checkpointing" not in config
    assert AutoConfig.from_pretrained(saved[-1]).use_cache == AutoConfig.from_pretrained(tiny_checkpoint).use_cache
    reloaded = AutoModelForCausalLM.from_pretrained(saved[-1])
    assert not reloaded.is_activation_checkpointing


@pytest.mark.django_db(transaction=True)
def test_a_lora_job_through_the_openai_client(live_server, provider, make_key, served_commit, infer_worker, tmp_path):
    ledger.top_up(user=provider, amount=10 * MICRO)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(provider), max_retries=0)
    data = client.files.create(file=("qa.jsonl", "\n".join(json.dumps(r) for r in RECORDS).encode()),
                               purpose="fine-tune")  # fmt: skip
    job = client.fine_tuning.jobs.create(
        model="alice/tiny-gpt", training_file=data.id, seed=3, suffix="lora",
        method={"type": "supervised", "supervised": {"hyperparameters": {
            "n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 20}, "lora": LORA}},
    )  # fmt: skip
    result = train_until_valid(client, job.id, tmp_path / "train.log")

    assert result.repo_id == "alice/tiny-gpt-ft-lora"
    head = Commit.objects.filter(model=result).order_by("-id").first()
    resolved = LORA | {"gradient_checkpointing": True}  # the default, reported
    assert head.lineage["lora"] == resolved
    assert client.fine_tuning.jobs.retrieve(job.id).method.supervised.model_extra["lora"] == resolved
    answer = client.completions.create(model=result.repo_id, prompt="Question 1:", max_tokens=3, temperature=0)
    assert answer.system_fingerprint == head.sha and answer.usage.completion_tokens == 3
