"""Pruning (with its recovery fine-tune) and distillation through the stock openai client, with a real job worker:
each result is a smaller stock GPT-2 that transformers loads through HF_ENDPOINT, validated, evaluated on its
parent's device, served through /v1 token for token as transformers generates, charged for the tokens it trained,
with its trade-off table on its page and its place in its parent's lineage graph and derived models."""

import json
import re

import huggingface_hub
import openai
import pytest
import torch
import transformers

from engine.compress.shapes import gpt2_parameters
from marketplace.models import AccountKind
from marketplace.money import MICRO
from marketplace.services import ledger
from marketplace.services.job_charges import training_cost
from registry.models import Commit
from tests.compression.conftest import compress_until_evaluated

pytestmark = pytest.mark.django_db(transaction=True)
CORPUS = "\n".join(json.dumps({"text": f"The store keeps model {i} and its lineage, {i % 5} times over."})
                   for i in range(24)).encode()  # fmt: skip


def _served_as_generated(api, folder, repo_id: str) -> transformers.PreTrainedModel:
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("The store", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        expected = model.generate(ids, max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=0)
    served = api.completions.create(model=repo_id, prompt="The store", max_tokens=6, temperature=0)
    assert served.choices[0].text == tokenizer.decode(expected[0, ids.shape[1] :])
    return model


def _tradeoff(page: str) -> dict[str, tuple[str, str, str]]:
    table = page[page.index('id="tradeoff"') : page.index("</table>", page.index('id="tradeoff"'))]
    return {label: (value, parent, ratio) for label, value, parent, ratio in re.findall(
        r'<th scope="row">([^<]+)</th><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>', table)}  # fmt: skip


@pytest.mark.parametrize("kind", ["prune", "distill"])
def test_prune_and_distill_through_the_openai_client(kind, live_server, client, provider, make_key, parent,
                                                     infer_worker, tmp_path):  # fmt: skip
    ledger.top_up(user=provider, amount=10 * MICRO)
    key = make_key(provider, scopes=("read", "finetune", "infer"))
    api = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0)
    corpus = api.files.create(file=("corpus.jsonl", CORPUS), purpose="fine-tune")
    hyper = {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 5}
    spec = {
        "prune": {"ratio": 0.5, "drop_layers": 1, "hyperparameters": hyper},
        "distill": {"student": {"n_layer": 1, "n_head": 2, "n_embd": 64}, "temperature": 2.0, "alpha": 0.5,
                    "hyperparameters": hyper},
    }[kind]  # fmt: skip
    job = api.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=corpus.id, seed=7,
                                      method={"type": kind, kind: spec})  # fmt: skip
    result = compress_until_evaluated(api, job.id, tmp_path / "worker.log")
    done = api.fine_tuning.jobs.retrieve(job.id)
    infix = {"prune": "pruned", "distill": "distilled"}[kind]
    assert result.repo_id == f"alice/tiny-gpt-{infix}-{job.id.removeprefix('ftjob-')[:12]}" and result.is_private
    checkpoints = api.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [12, 6]  # 24 examples / 4 a batch = 6 steps an epoch, 2 epochs
    head = Commit.objects.filter(model=result).order_by("-id").first()
    assert (head.base_commit, head.base_relation) == (parent, {"prune": "pruned", "distill": "distilled"}[kind])
    assert head.lineage["training_file_sha256"] and head.lineage["parent_commit"] == parent.sha
    wallet = ledger.account_for(provider.pk, AccountKind.WALLET)
    assert done.trained_tokens > 0 and (wallet.balance, wallet.held) == (
        10 * MICRO - training_cost(done.trained_tokens),
        0,
    )

    folder = huggingface_hub.snapshot_download(result.repo_id, endpoint=live_server.url, token=key,
                                               cache_dir=tmp_path / "hub")  # fmt: skip
    model = _served_as_generated(api, folder, result.repo_id)
    config = model.config
    assert (config.model_type, config.n_layer, config.n_embd) == ("gpt2", 1, 64)
    if kind == "prune":
        assert config.n_inner == 128  # half of the 256 units of each block's MLP
        assert head.lineage["pruning"]["kept_layers"] in ([0], [1])
        assert head.lineage["pruning"]["calibration"] == "the training file"
    parameters = sum(p.numel() for p in model.parameters())
    assert parameters == gpt2_parameters(config.to_dict()) < 141_056  # the parent's
    figures = head.evaluations.get(dataset_kind="standard").metrics
    base = parent.evaluations.get(dataset_kind="standard").metrics
    assert figures["parameters"] == parameters

    client.force_login(provider)
    rows = _tradeoff(client.get(f"/{result.repo_id}").content.decode())
    assert list(rows) == ["Size on disk", "Parameters", "Tokens/s, batch 1", "Tokens/s, batch 8", "Bits per byte",
                          "Perplexity"]  # fmt: skip
    assert rows["Parameters"] == (
        f"{parameters:,}",
        f"{base['parameters']:,}",
        f"{parameters / base['parameters']:.2f}×",
    )
    assert rows["Bits per byte"][2] == f"{figures['bits_per_byte'] / base['bits_per_byte']:.2f}×"
    parent_page = client.get("/alice/tiny-gpt").content.decode()
    derived = parent_page[parent_page.index('id="derived-models"') :]
    assert f'<a href="/{result.repo_id}">{result.repo_id}</a></th><td>{head.base_relation}</td>' in derived
    assert f"{parameters:,}" in derived[: derived.index("</table>")]
