"""Compression in a real browser: a pruned model's page shows its trade-off table against its parent and the lineage
graph (its parent above, its quantized child below, each with the store's figures), and the parent's page lists its
derived models; at desktop and phone width, with nothing too wide and no serious accessibility violation. The models
are real: pruned and quantized by engine/compress, each evaluated by the store's own job."""

import pytest
from playwright.sync_api import expect

from engine.compress import prune, quantize
from engine.pretrain import pretrain_corpus_sample, save_checkpoint
from registry import services as registry
from registry.models import BaseRelation, Commit, ValidationStatus
from tests.conftest import commit_valid_checkpoint
from tests.e2e.conftest import serious_violations, shoot
from tests.e2e.layout_checks import layout_problems
from tests.e2e.test_evaluation import evaluate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def derive(owner, name: str, directory, base: Commit, relation: str) -> Commit:
    model = registry.create_model(owner=owner, name=name)
    operations = []
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        operations.append(registry.AddFile(path=path.name, blob=registry.ingest_upload(
            user=owner, incoming_stream=[data], size=len(data))))  # fmt: skip
    commit = registry.commit_changes(model_id=model.pk, author=owner, operations=operations, message=relation,
                                     base_commit=base, base_relation=relation)  # fmt: skip
    Commit.objects.filter(pk=commit.pk).update(validation_status=ValidationStatus.VALID,
                                               validation_report={"context_length": 128})  # fmt: skip
    evaluate(commit)
    return commit


def test_the_lineage_graph_and_the_trade_off_table(page, live_server, provider, tiny_checkpoint, tmp_path,
                                                   console_errors):  # fmt: skip
    import transformers

    parent = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128, evaluated=False)
    evaluate(parent)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_checkpoint)
    windows = prune.calibration_windows(tokenizer, pretrain_corpus_sample()[:20], seq_len=128)
    smaller = prune.prune(model, windows, prune.Pruning(ratio=0.5)).model
    pruned = derive(provider, "tiny-gpt-pruned", save_checkpoint(smaller, tokenizer, tmp_path / "pruned"), parent,
                    BaseRelation.PRUNED)  # fmt: skip
    quantize.quantize(tmp_path / "pruned", tmp_path / "int8")
    derive(provider, "tiny-gpt-pruned-int8", tmp_path / "int8", pruned, BaseRelation.QUANTIZED)

    page.goto(f"{live_server.url}/alice/tiny-gpt-pruned")
    table = page.locator("#tradeoff")
    expect(table.locator("tbody th")).to_have_text(["Size on disk", "Parameters", "Tokens/s, batch 1",
                                                    "Tokens/s, batch 8", "Bits per byte", "Perplexity"])  # fmt: skip
    figures = pruned.evaluations.get(dataset_kind="standard").metrics
    before = parent.evaluations.get(dataset_kind="standard").metrics
    expect(table.locator("tbody tr").nth(1)).to_have_text(
        f"Parameters{figures['parameters']:,}{before['parameters']:,}{figures['parameters'] / before['parameters']:.2f}×"
    )
    graph = page.locator("figure.lineage-graph")
    expect(graph.locator("figcaption")).to_have_text("Made from alice/tiny-gpt. 1 model derived from it.")
    expect(graph.locator(".lineage-node a")).to_have_text(["alice/tiny-gpt", "alice/tiny-gpt-pruned-int8"])
    expect(graph.locator(".lineage-node.current strong")).to_have_text("alice/tiny-gpt-pruned")
    expect(graph.locator(".lineage-children .badge")).to_have_text(["quantized"])
    shoot(page, "compression-tradeoff-lineage")
    page.set_viewport_size({"width": 390, "height": 900})
    assert layout_problems(page) == {}
    page.set_viewport_size({"width": 1280, "height": 900})
    assert serious_violations(page) == []

    graph.locator("a >> text=alice/tiny-gpt").first.click()
    page.wait_for_url(f"{live_server.url}/alice/tiny-gpt")
    derived = page.locator("#derived-models + .scroll table tbody tr")
    expect(derived).to_have_count(1)
    expect(derived.first.locator("th")).to_have_text("alice/tiny-gpt-pruned")
    expect(page.locator(".lineage-children li")).to_have_count(2)  # the pruned model, and its quantized child
    shoot(page, "compression-derived-models")
    assert console_errors == []


def test_compress_from_the_model_page(page, live_server, provider, served_commit, console_errors):
    from jobs.models import Job
    from tests.e2e.conftest import log_in

    base = live_server.url
    log_in(page, base, "alice")
    page.goto(f"{base}/alice/tiny-gpt")
    page.click("#compress-link")
    page.check("input[name=method][value=prune]")
    page.fill("#id_ratio", "1.5")
    page.click("#start")
    expect(page.locator("#compress-form .errorlist")).to_have_text(
        ["ratio must be a number between 0 and 1 (exclusive), got 1.5"])  # fmt: skip
    assert Job.objects.count() == 0  # a refusal creates nothing
    shoot(page, "compress-form")
    assert serious_violations(page) == []

    page.check("input[name=method][value=quantize]")
    page.fill("#id_suffix", "portal")
    page.click("#start")
    expect(page.locator("h1")).to_contain_text("Quantization job")
    job = Job.objects.get()
    assert (job.kind, job.params["method"], job.params["suffix"]) == (
        "quantize", {"type": "quantize", "quantize": {"bits": 8, "hyperparameters": {}}}, "portal")  # fmt: skip
    assert console_errors == []
