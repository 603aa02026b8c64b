"""Evaluation in a real browser: the leaderboard sorts by its header links (no JavaScript needed) and filters, and a
model page shows the store's figures beside the parent commit's with the difference, and its eval files' reports."""

import json
import re

import pytest
from playwright.sync_api import expect

from evaluation.models import Evaluation
from jobs import leases, runner
from registry import services as registry
from registry.models import Commit, ValidationStatus
from tests.conftest import commit_valid_checkpoint
from tests.e2e.conftest import shoot
from tests.evaluation.conftest import EVAL_FILES
from tests.marketplace.conftest import publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def evaluate(commit) -> None:
    from evaluation import services

    services.request_evaluation(commit)
    job = leases.claim_job(worker=runner.WORKER, kind_names=("evaluate",))
    runner.run_job(job)


def test_the_leaderboard_sorts_and_filters(page, live_server, provider, consumer, settings, console_errors):
    settings.REVIEW_LISTINGS = False
    for owner, name, bpb, speed, params, downloadable in ((provider, "small-gpt", 2.5, 300.0, 5_000_000, False),
                                                          (provider, "mid-gpt", 1.9, 120.0, 50_000_000, True),
                                                          (consumer, "big-gpt", 1.2, 40.0, 500_000_000, True)):  # fmt: skip
        listing = publish(owner, name, title=name.replace("-", " ").title(), downloadable=downloadable)
        Evaluation.objects.filter(commit__model=listing.model).update(metrics={
            "bits_per_byte": bpb, "perplexity": 2 ** (bpb * 4), "tokens_per_second_b1": speed, "parameters": params})  # fmt: skip
    page.goto(f"{live_server.url}/models")
    page.click("nav >> text=Leaderboard")
    page.wait_for_url(f"{live_server.url}/leaderboard")
    rows = page.locator("table.leaderboard tbody th")
    expect(rows).to_have_text([re.compile(rf"{title}\s+{repo}@[0-9a-f]{{7}}") for title, repo in (
        ("Big Gpt", "bob/big-gpt"), ("Mid Gpt", "alice/mid-gpt"), ("Small Gpt", "alice/small-gpt"))])  # fmt: skip
    shoot(page, "leaderboard")
    page.click("table.leaderboard thead >> text=Tokens/s")
    page.wait_for_url("**/leaderboard?sort=speed&order=desc")
    expect(page.locator("table.leaderboard tbody th a").first).to_have_text("Small Gpt")
    page.click("table.leaderboard thead >> text=Tokens/s")  # again: the other way round
    page.wait_for_url("**/leaderboard?sort=speed&order=asc")
    expect(page.locator("table.leaderboard tbody th a").first).to_have_text("Big Gpt")
    page.check("input[name=downloadable]")
    page.click(".leaderboard-filters button[type=submit]")
    expect(page.locator("table.leaderboard tbody tr")).to_have_count(2)
    assert console_errors == []


def test_a_model_page_shows_the_figures_against_the_parent_and_the_reports(page, live_server, provider,
                                                                          tiny_checkpoint, console_errors):  # fmt: skip
    first = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128, evaluated=False)
    evaluate(first)
    operations = []
    for path, rows in EVAL_FILES.items():
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
        blob = registry.ingest_upload(user=provider, incoming_stream=[data], size=len(data))
        operations.append(registry.AddFile(path=path, blob=blob))
    second = registry.commit_changes(model_id=first.model_id, author=provider, operations=operations,
                                     message="Add eval files")  # fmt: skip
    Commit.objects.filter(pk=second.pk).update(validation_status=ValidationStatus.VALID,
                                               validation_report={"context_length": 128})  # fmt: skip
    evaluate(second)
    page.goto(f"{live_server.url}/alice/tiny-gpt")
    panel = page.locator("#evaluation")
    expect(panel.locator("table.figures thead")).to_contain_text(f"From alice/tiny-gpt@{first.sha[:7]}")
    bpb = Evaluation.objects.get(commit=second, dataset_kind="standard").metrics["bits_per_byte"]
    expect(panel.locator("table.figures tbody tr").first).to_contain_text(f"Bits per byte{bpb:.4f}")
    expect(panel.locator("details.eval-file summary")).to_have_text(
        ["evals/choice.jsonl: choice", "evals/ner.jsonl: tagging", "evals/qa.jsonl: generation",
         "evals/text.jsonl: text"])  # fmt: skip
    panel.locator("summary >> text=evals/ner.jsonl").click()
    expect(panel.locator("table.report caption")).to_contain_text(["Per label (scikit-learn)"])
    expect(panel.get_by_text("Entities (seqeval)")).to_be_visible()
    shoot(page, "model-evaluation")
    assert console_errors == []
