"""Fine-tuning from the portal in a real browser: start a job from the model page (upload, check, confirm), watch
its page's loss chart get points while a real train worker trains, see the result model with its lineage, and
cancel a second job. SCREENSHOTS=<folder> also saves the pages at desktop and phone width."""

import json

import pytest
from django.conf import settings
from playwright.sync_api import expect

from jobs.models import JobStatus
from marketplace.money import MICRO
from marketplace.services import ledger
from tests.conftest import start_worker_process
from tests.e2e.conftest import log_in, shoot
from training import jobs
from training.models import FineTuningJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
EXAMPLES = "\n".join(json.dumps({"prompt": f"Question {i % 4}:", "completion": " yes yes yes"}) for i in range(12))


def test_fine_tune_from_the_model_page_and_follow_the_job(page, live_server, provider, served_commit, tmp_path):
    ledger.top_up(user=provider, amount=10 * MICRO)
    dataset = tmp_path / "qa.jsonl"
    dataset.write_text(EXAMPLES)
    base = live_server.url
    log_in(page, base, "alice")

    page.goto(f"{base}/alice/tiny-gpt")
    page.click("#fine-tune-link")
    page.set_input_files("#id_upload", str(dataset))
    page.fill("#id_n_epochs", "3")
    page.fill("#id_batch_size", "4")
    page.fill("#id_learning_rate_multiplier", "50")
    page.fill("#id_suffix", "portal")
    page.click("#check")
    estimate = page.inner_text("#estimate")
    assert "12 examples" in estimate and "× 3 epochs" in estimate
    assert FineTuningJob.objects.count() == 0  # nothing is created before the confirmation
    shoot(page, "fine-tune-check")
    page.click("#confirm")
    page.wait_for_url("**/jobs/ftjob-*")
    job = FineTuningJob.objects.get()
    assert page.inner_text("#job-status") == "queued"

    worker = start_worker_process(
        "-Q", f"{settings.JOB_QUEUES['cpu']},validate", "-P", "solo", log_path=tmp_path / "train.log"
    )
    try:
        expect(page.locator("#chart-points")).not_to_have_text("0", timeout=120_000)  # the chart got points
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=120_000)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    # the page reaches its final state by itself (issue #23: Pause, Cancel and "None yet" stayed until a reload)
    expect(page.locator("#checkpoints tbody tr")).to_have_count(3, timeout=30_000)
    expect(page.locator("#job .actions button")).to_have_count(0)
    assert page.locator("#events li").count() > 3
    expect(page.locator("#chart-points")).to_have_text("3")  # one point per epoch's end (fewer than 10 steps apart)
    expect(page.locator("#loss-table tr")).to_have_count(3)  # the numbers behind the chart, one row per point
    expect(page.locator("#loss-figure.drawn canvas")).to_be_visible()  # Chart.js drew them
    assert page.evaluate("Chart.getChart('loss-chart').data.datasets.map(d => d.label)") == ["training"]  # no file
    assert page.inner_text("#job-result") == "alice/tiny-gpt-ft-portal"
    shoot(page, "job")

    page.click("#job-result a")
    page.wait_for_url(f"{base}/alice/tiny-gpt-ft-portal")
    lineage = page.inner_text("#lineage")
    assert f"alice/tiny-gpt @ {served_commit.sha[:12]}" in lineage and job.public_id in lineage
    shoot(page, "result-model")

    second = jobs.create_job(
        user=provider, api_key=None, model="alice/tiny-gpt", training_file=job.training_file.public_id
    )
    page.goto(f"{base}/jobs/{second.public_id}")
    page.click("text=Cancel")
    page.wait_for_url(f"{base}/jobs/{second.public_id}")
    assert page.inner_text("#job-status") == "cancelled"
    assert FineTuningJob.objects.get(pk=second.pk).status == JobStatus.CANCELLED
    page.goto(f"{base}/settings/jobs")
    assert page.locator("#jobs tbody tr").count() == 2
    shoot(page, "jobs")


def test_a_new_model_from_scratch_shows_its_cost_before_it_starts(page, live_server, provider, tmp_path):
    ledger.top_up(user=provider, amount=10 * MICRO)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The with statement wraps a block.\n\nA list comprehension builds a list.\n")
    base = live_server.url
    log_in(page, base, "alice")

    page.goto(f"{base}/settings/jobs")
    page.click("#pretrain-link")
    binary = tmp_path / "weights.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    page.set_input_files("#id_corpus", str(binary))
    page.click("#check")
    assert "the file is not UTF-8 text" in page.inner_text("#pretrain-form")  # the form says why, nothing is made
    assert FineTuningJob.objects.count() == 0
    shoot(page, "new-from-scratch-error")
    page.set_input_files("#id_corpus", str(corpus))
    page.select_option("#id_preset", "tiny")
    page.fill("#id_vocab_size", "300")
    page.fill("#id_suffix", "docs")
    page.click("#check")
    assert "2 texts, 70 bytes, × 3 epochs" in page.inner_text("#estimate")  # each text and its end-of-text
    assert FineTuningJob.objects.count() == 0
    shoot(page, "new-from-scratch")
    page.click("#confirm")
    page.wait_for_url("**/jobs/ftjob-*")
    job = FineTuningJob.objects.get()
    assert (job.base_label, job.method["pretrain"]["vocab_size"], job.suffix) == ("scratch", 300, "docs")
