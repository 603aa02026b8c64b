"""Validation on a real Celery worker consuming the real Redis broker, including a worker killed mid-task."""

import signal
import time

import psutil
import pytest
from django.conf import settings

from registry import services, validation
from registry.models import Commit, ValidationStatus
from registry.storage import receive_bytes, store_blob
from tests.conftest import start_worker_process

pytestmark = pytest.mark.django_db(transaction=True)


def commit_folder(user, model, folder):
    operations = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        blob = services.ingest_upload(user=user, incoming_stream=[data], size=len(data))
        operations.append(services.AddFile(path=path.name, blob=blob))
    return services.commit_changes(model_id=model.pk, author=user, operations=operations, message="upload")


def wait_for(commit_id, statuses, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        commit = Commit.objects.get(pk=commit_id)
        if commit.validation_status in statuses:
            return commit
        time.sleep(0.05)
    pytest.fail(f"commit stayed {Commit.objects.get(pk=commit_id).validation_status} for {timeout}s")


def test_a_good_checkpoint_becomes_valid_with_a_report(celery_worker, provider, tiny_checkpoint):
    model = services.create_model(owner=provider, name="tiny")

    commit = commit_folder(provider, model, tiny_checkpoint)

    commit = wait_for(commit.pk, {ValidationStatus.VALID, ValidationStatus.INVALID})
    assert (commit.validation_status, commit.validation_error) == (ValidationStatus.VALID, "")
    assert commit.validation_report["parameters"] == 141056
    assert commit.validation_report["architecture"] == "GPT2LMHeadModel"
    assert set(commit.validation_report) >= {"dtype", "context_length", "vocab_size", "size_bytes", "load_seconds"}


def test_a_truncated_checkpoint_becomes_invalid_with_the_reason(celery_worker, provider, checkpoint_copy):
    weights = checkpoint_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])
    model = services.create_model(owner=provider, name="broken")

    commit = commit_folder(provider, model, checkpoint_copy)

    commit = wait_for(commit.pk, {ValidationStatus.VALID, ValidationStatus.INVALID})
    assert commit.validation_status == ValidationStatus.INVALID
    assert commit.validation_error.startswith("model.safetensors: tensor data covers")
    assert commit.validation_report == {}


def test_the_model_page_shows_the_report(celery_worker, client, provider, tiny_checkpoint):
    model = services.create_model(owner=provider, name="tiny")
    commit = wait_for(commit_folder(provider, model, tiny_checkpoint).pk, {ValidationStatus.VALID})

    page = client.get("/alice/tiny").content.decode()
    status = client.get(f"/api/models/alice/tiny/commits/{commit.sha}/validation").json()

    assert "<dt>Architecture</dt><dd>GPT2LMHeadModel</dd>" in page
    assert "<dt>Parameters</dt><dd>141k (141,056)</dd>" in page
    assert status["status"] == "valid" and status["report"]["vocab_size"] == 512


def test_a_worker_process_killed_mid_validation_is_redelivered_and_completes(provider, tiny_checkpoint, tmp_path):
    worker = start_worker_process("-Q", "validate", "-c", "1", "-P", "prefork", log_path=tmp_path / "worker.log")
    try:
        model = services.create_model(owner=provider, name="tiny")
        commit = commit_folder(provider, model, tiny_checkpoint)
        wait_for(commit.pk, {ValidationStatus.VALIDATING})
        children = psutil.Process(worker.pid).children()
        assert len(children) == 1
        children[0].send_signal(signal.SIGKILL)  # what the OOM killer does to a pool process

        commit = wait_for(commit.pk, {ValidationStatus.VALID, ValidationStatus.INVALID}, timeout=90)

        assert commit.validation_status == ValidationStatus.VALID, commit.validation_error
        assert "WorkerLostError" in (tmp_path / "worker.log").read_text()
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_a_second_delivery_of_a_finished_validation_changes_nothing(provider, tiny_checkpoint):
    from registry.tasks import validate_commit

    model = services.create_model(owner=provider, name="tiny")
    blob = store_blob(receive_bytes(b"{}"))
    commit = services.commit_changes(
        model_id=model.pk, author=provider, operations=[services.AddFile("config.json", blob)], message="x"
    )
    assert validation.claim_validation(commit_id=commit.pk, task_id="first")
    assert validation.finish_validation(commit_id=commit.pk, task_id="first", report={"ok": 1})

    result = validate_commit.apply(args=[commit.pk], task_id="second").get()

    commit.refresh_from_db()
    assert result == "skipped"
    assert (commit.validation_status, commit.validation_report) == (ValidationStatus.VALID, {"ok": 1})


def test_the_reaper_re_enqueues_a_validation_whose_message_redis_lost(provider, tiny_checkpoint):
    import datetime as dt

    import redis
    from celery.contrib.testing.worker import start_worker
    from django.utils import timezone

    from registry.tasks import requeue_stuck_validations
    from workers.celery import app

    model = services.create_model(owner=provider, name="tiny")
    commit = commit_folder(provider, model, tiny_checkpoint)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # the broker lost every queued message
    Commit.objects.filter(pk=commit.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))

    with start_worker(
        app, pool="threads", concurrency=1, queues=["validate"], perform_ping_check=False, loglevel="WARNING"
    ):
        assert requeue_stuck_validations() == 1
        commit = wait_for(commit.pk, {ValidationStatus.VALID, ValidationStatus.INVALID})

    assert commit.validation_status == ValidationStatus.VALID


def hide_weights(commit) -> tuple:
    """Move the commit's weights out of storage (a storage fault), returning how to put them back."""
    from pathlib import Path

    from django.core.files.storage import default_storage

    blob = commit.files.select_related("blob").get(path="model.safetensors").blob
    stored = Path(default_storage.path(blob.storage_key))
    hidden = stored.with_suffix(".hidden")
    stored.rename(hidden)
    return hidden, stored


def in_process_worker():
    from celery.contrib.testing.worker import start_worker

    from workers.celery import app

    return start_worker(app, pool="threads", concurrency=1, queues=["validate", "default"], perform_ping_check=False,
                        loglevel="WARNING")  # fmt: skip


def test_a_storage_fault_is_retried_and_the_commit_becomes_valid(provider, tiny_checkpoint, settings):
    """Any crash used to mark a commit invalid for good (issue #11): now it goes back to pending and is retried."""
    settings.VALIDATION_ATTEMPTS, settings.VALIDATION_RETRY_SECONDS = 3, 1
    model = services.create_model(owner=provider, name="tiny")
    commit = commit_folder(provider, model, tiny_checkpoint)  # queued; no worker yet
    hidden, stored = hide_weights(commit)

    with in_process_worker():
        deadline = time.monotonic() + 60
        while not Commit.objects.get(pk=commit.pk).validation_error.startswith("attempt 1 failed"):
            assert time.monotonic() < deadline, "the first attempt never failed"
            time.sleep(0.02)
        first = Commit.objects.get(pk=commit.pk)
        hidden.rename(stored)  # storage is back before the retry (1 s later)
        done = wait_for(commit.pk, {ValidationStatus.VALID, ValidationStatus.INVALID})

    assert first.validation_status == ValidationStatus.PENDING
    assert "StorageUnavailable: model.safetensors" in first.validation_error
    assert (done.validation_status, done.validation_error) == (ValidationStatus.VALID, "")
    assert done.validation_report["parameters"] > 0


def test_after_the_last_attempt_the_commit_is_invalid_and_the_owner_can_ask_again(
    provider, outsider, make_key, tiny_checkpoint, settings, client
):
    settings.VALIDATION_ATTEMPTS, settings.VALIDATION_RETRY_SECONDS = 2, 0
    model = services.create_model(owner=provider, name="tiny")
    commit = commit_folder(provider, model, tiny_checkpoint)
    hidden, stored = hide_weights(commit)
    url = f"/api/models/alice/tiny/commits/{commit.sha}/validation"

    with in_process_worker():
        failed = wait_for(commit.pk, {ValidationStatus.VALID, ValidationStatus.INVALID})
        hidden.rename(stored)
        refused = client.post(url, HTTP_AUTHORIZATION=f"Bearer {make_key(outsider)}")
        unchanged = Commit.objects.get(pk=commit.pk).validation_status
        asked = client.post(url, HTTP_AUTHORIZATION=f"Bearer {make_key(provider)}")
        done = wait_for(commit.pk, {ValidationStatus.VALID})

    assert failed.validation_status == ValidationStatus.INVALID
    assert failed.validation_error.startswith("validation failed 2 times (StorageUnavailable: model.safetensors")
    assert failed.validation_error.endswith("ask for validation again from the commit page")
    assert (refused.status_code, unchanged) == (404, ValidationStatus.INVALID)
    assert asked.status_code == 202 and asked.json()["status"] == "pending" and asked.json()["error"] == ""
    assert done.validation_error == ""


def test_the_commit_page_offers_the_owner_to_validate_an_invalid_commit_again(client, provider, outsider):
    model = services.create_model(owner=provider, name="tiny")
    blob = services.ingest_upload(user=provider, incoming_stream=[b"{}"], size=2)
    commit = services.commit_changes(model_id=model.pk, author=provider, message="x",
                                     operations=[services.AddFile("config.json", blob)])  # fmt: skip
    Commit.objects.filter(pk=commit.pk).update(validation_status=ValidationStatus.INVALID, validation_error="crashed")
    page = f"/alice/tiny/commit/{commit.sha}"

    client.force_login(outsider)
    foreign = client.post(f"{page}/revalidate")
    client.force_login(provider)
    shown = client.get(page).content.decode()
    again = client.post(f"{page}/revalidate")

    assert foreign.status_code == 404
    assert "Validate again" in shown
    assert (again.status_code, again["Location"]) == (302, page)
    assert Commit.objects.get(pk=commit.pk).validation_status == ValidationStatus.PENDING
