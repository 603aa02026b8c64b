"""The provider portal in a real browser (Debian's chromium driven by Playwright), against a live server and
a real Celery worker: sign up -> create a model -> upload a checkpoint with progress -> validation report."""

import pytest

from registry.models import Commit, ValidationStatus
from tests.e2e.conftest import shoot, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def create_and_upload(page, base_url, repo_id, folder):
    """On the new-model page: create `repo_id`, then upload every file of `folder` and wait for the commit."""
    page.fill("#id_name", repo_id.split("/")[1])
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base_url}/{repo_id}/upload")
    page.set_input_files("#files", sorted(str(p) for p in folder.iterdir()))
    page.click("#upload-button")
    page.wait_for_selector("#commit-link")


def test_sign_up_create_model_upload_and_see_the_validation_report(page, live_server, celery_worker, tiny_checkpoint):
    sign_up(page, live_server.url, "frank")
    page.click("text=New model")
    create_and_upload(page, live_server.url, "frank/tiny-gpt", tiny_checkpoint)

    assert page.eval_on_selector("#progress", "el => el.value") == 100
    assert page.inner_text("#progress-text") == "100%"
    page.click("#commit-link")
    page.wait_for_selector("#validation.status-valid", timeout=120_000)
    page.wait_for_selector("#validation .report dd")  # the page reloads once validation ends: the report as text
    report = page.inner_text("#validation .report")
    assert "GPT2LMHeadModel" in report and "Parameters\n141k (141,056)" in report, report
    for width in (1280, 390):  # each label beside its own value, whatever wraps (issue #23: values moved up a row)
        page.set_viewport_size({"width": width, "height": 900})
        rows = page.eval_on_selector_all(
            "#validation .report dt",
            """labels => labels.map(dt => [
            dt.textContent, Math.round(dt.getBoundingClientRect().top),
            Math.round(dt.nextElementSibling.getBoundingClientRect().top)])""",
        )
        assert [label for label, _, _ in rows][:4] == ["Architecture", "Model type", "Parameters", "Weights stored as"]
        assert all(top == value_top for _, top, value_top in rows), (width, rows)
    shoot(page, "model-validation-report")
    commit = Commit.objects.get(model__name="tiny-gpt")
    assert commit.validation_status == ValidationStatus.VALID
    assert sorted(commit.files.values_list("path", flat=True)) == sorted(p.name for p in tiny_checkpoint.iterdir())


def test_an_invalid_upload_shows_the_reason(page, live_server, celery_worker, provider, checkpoint_copy):
    from tests.conftest import PASSWORD

    (checkpoint_copy / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")  # a pickle
    page.goto(f"{live_server.url}/login")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.goto(f"{live_server.url}/new")
    create_and_upload(page, live_server.url, "alice/bad", checkpoint_copy)
    page.click("#commit-link")
    page.wait_for_selector("#validation.status-invalid", timeout=120_000)

    assert "pytorch_model.bin: the file is a Python pickle" in page.inner_text("#validation .error")
