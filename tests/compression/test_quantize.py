"""Quantizing through the stock openai client, with a real job worker: the result is int8 weight-only safetensors
with a quantization_config that stock transformers loads through HF_ENDPOINT, smaller than its parent, validated,
evaluated on the parent's device, served through /v1 token for token as transformers generates, and its page sets
its figures beside the parent's."""

import os
import re

import huggingface_hub
import openai
import pytest
import torch
import transformers

from marketplace.models import AccountKind
from marketplace.money import MICRO
from marketplace.services import ledger
from registry.models import Commit

pytestmark = pytest.mark.django_db(transaction=True)


def test_quantize_through_the_openai_client(live_server, client, provider, make_key, parent, infer_worker, tmp_path):
    ledger.top_up(user=provider, amount=MICRO)
    key = make_key(provider, scopes=("read", "finetune", "infer"))
    api = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0)
    job = api.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=None, suffix="q",
                                      method={"type": "quantize", "quantize": {"bits": 8}})  # fmt: skip
    assert (job.status, job.method.type, job.training_file) == ("queued", "quantize", None)
    from tests.compression.conftest import compress_until_evaluated

    result = compress_until_evaluated(api, job.id, tmp_path / "worker.log")
    assert result.repo_id == "alice/tiny-gpt-int8-q" and result.is_private
    head = Commit.objects.get(model=result)
    assert (head.base_commit, head.base_relation) == (parent, "quantized")
    assert head.lineage["quantization"] == {"library": "torchao", "scheme": "int8 weight-only, per output row",
                                            "bits": 8, "quantized_layers": 8, "converted_from": "gpt2",
                                            "model_type": "gpt_bigcode"}  # fmt: skip
    # every projection of both blocks is int8, with one int8 zero point per output row beside it
    int8_weights, zero_points = 2 * (64 * 192 + 64 * 64 + 64 * 256 + 256 * 64), 2 * (192 + 64 + 256 + 64)
    assert head.validation_report["dtypes"]["I8"] == int8_weights + zero_points
    assert head.validation_report["parameters"] == parent.evaluations.get(dataset_kind="standard").metrics["parameters"]
    wallet = ledger.account_for(provider.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (MICRO, 0)  # quantizing trains nothing: nothing is charged

    folder = huggingface_hub.snapshot_download(result.repo_id, endpoint=live_server.url, token=key,
                                               cache_dir=tmp_path / "hub")  # fmt: skip
    parent_size = parent.files.get(path="model.safetensors").blob.size
    assert os.path.getsize(os.path.join(folder, "model.safetensors")) < 0.6 * parent_size
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    assert model.config.quantization_config.quant_method == "torchao"
    assert type(model.transformer.h[0].mlp.c_fc.weight).__name__ == "Int8Tensor"
    ids = tokenizer("The store", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        expected = model.generate(ids, max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=0)
    served = api.completions.create(model=result.repo_id, prompt="The store", max_tokens=6, temperature=0)
    assert served.system_fingerprint == head.sha
    assert served.choices[0].text == tokenizer.decode(expected[0, ids.shape[1] :])

    client.force_login(provider)
    page = client.get(f"/{result.repo_id}").content.decode()
    table = page[page.index('id="tradeoff"') : page.index("</table>", page.index('id="tradeoff"'))]
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>[^<]*</td>\s*'
                           r'<td[^>]*>([^<]+)</td>', table))  # fmt: skip
    figures = {row.dataset_name: row.metrics for row in head.evaluations.all()}
    base = {row.dataset_name: row.metrics for row in parent.evaluations.all()}
    ratio = figures["pkgdocs"]["weight_bytes"] / base["pkgdocs"]["weight_bytes"]
    assert rows["Size on disk"] == f"{ratio:.2f}×"
    assert rows["Parameters"] == "1.00×"
