"""Personas, keys, a tiny checkpoint, a live server and a real Celery worker."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from accounts import services as accounts
from registry import page_cache

PASSWORD = "correct-horse-battery-staple"


def greedy(checkpoint, prompt_ids: list[int], max_tokens: int) -> list[int]:
    """transformers' own greedy continuation of `prompt_ids` (the reference the serving tests compare with)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                             max_new_tokens=max_tokens, do_sample=False, pad_token_id=0)  # fmt: skip
    return out[0, len(prompt_ids) :].tolist()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a server or launcher a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float = 30) -> None:
    """Poll `condition` until it holds (for what the server finishes after its answer, such as the settle)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def start_worker_process(*celery_args: str, log_path: Path) -> subprocess.Popen:
    """`celery -A workers worker <args>` in its own process, on the test database (PostgreSQL only: the data must
    be committed, so use it from transactional tests), the test storage and the test Redis."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail("run this on PostgreSQL (DATABASE_URL): the worker is another process")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "STORAGE_ROOT": str(settings.STORAGE_ROOT),
        "REDIS_URL": settings.REDIS_URL,
    }
    command = [sys.executable, "-m", "celery", "-A", "workers", "worker", *celery_args, "--without-gossip",
               "--without-mingle", "--loglevel", "INFO"]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)


def start_infer_worker_process(log_path: Path, concurrency: int = 4) -> subprocess.Popen:
    """A `celery worker -Q infer` process, returned once it has announced itself (the gateway refuses calls with
    503 until an infer worker beats)."""
    from serving import status

    before = {seen.worker_id for seen in status.infer_workers() or ()}  # a worker killed just now may beat still
    worker = start_worker_process("-Q", "infer", "-P", "threads", "-c", str(concurrency), log_path=log_path)
    try:
        wait_until(lambda: any(seen.is_alive and seen.worker_id not in before for seen in status.infer_workers() or ()),
                   timeout=90)  # fmt: skip
    except AssertionError:
        worker.kill()
        raise
    return worker


@pytest.fixture(autouse=True)
def _forget_gateway_caches():
    """The /v1 gateway keeps models and commits by key in the process; each test has its own database rows."""
    from serving import gateway

    gateway.forget_cached()
    return


@pytest.fixture(autouse=True)
def _fresh_page_cache():
    """Cached storefront pages belong to the test that rendered them: each test starts a catalogue version no
    earlier test used."""
    cache.set(page_cache.VERSION_KEY, time.time_ns(), timeout=None)
    page_cache.forget("facets")
    cache.delete("demo-model:progress")  # marketplace.services.demo_model.PROGRESS_KEY: no build in progress
    counters = redis.Redis.from_url(settings.REDIS_URL)  # throttle windows (accounts/throttle.py) start empty too
    for key in counters.scan_iter(match="*:throttle:*"):
        counters.delete(key)


@pytest.fixture(scope="session", autouse=True)
def _clean_test_redis():
    """Start from an empty broker database so no message of an earlier run is delivered."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()


@pytest.fixture
def probe():
    """A test client that answers a server error as a response, as a real client sees it, instead of raising."""
    from django.test import Client

    return Client(raise_request_exception=False)


@pytest.fixture
def provider(db):
    return accounts.create_user(username="alice", email="alice@example.com", password=PASSWORD)


@pytest.fixture
def consumer(db):
    return accounts.create_user(username="bob", email="bob@example.com", password=PASSWORD)


@pytest.fixture
def outsider(db):
    return accounts.create_user(username="mallory", email="mallory@example.com", password=PASSWORD)


@pytest.fixture
def make_key(db):
    def make(user, scopes=("read", "write", "infer", "finetune"), **kwargs):
        _, secret = accounts.create_api_key(user=user, name="test", scopes=scopes, **kwargs)
        return secret

    return make


@pytest.fixture
def provider_key(provider, make_key):
    return make_key(provider)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A 141k-parameter GPT-2 with a trained byte-level BPE tokenizer, random weights, HF layout."""
    from engine.pretrain import GPTShape, build_gpt2, pretrain_corpus_sample, save_checkpoint, train_tokenizer

    texts = pretrain_corpus_sample()
    tokenizer = train_tokenizer(texts, vocab_size=512)
    model = build_gpt2(tokenizer, GPTShape(n_layer=2, n_head=2, n_embd=64, n_positions=128))
    directory = save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("tiny") / "ckpt")
    (directory / "README.md").write_text("---\nlicense: mit\n---\n# Tiny GPT\n\nA test model.\n")
    return directory


@pytest.fixture
def checkpoint_copy(tiny_checkpoint, tmp_path) -> Path:
    """A private copy of the tiny checkpoint that a test may damage."""
    target = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, target)
    return target


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (threads, in this process) consuming the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from workers.celery import app

    with start_worker(
        app, pool="threads", concurrency=2, queues=["validate", "default"], perform_ping_check=False, loglevel="WARNING"
    ):
        yield


@pytest.fixture
def infer_worker(transactional_db):
    """A real Celery worker on the `infer` queue (threads pool, as in production), in this process."""
    from celery.contrib.testing.worker import start_worker

    from workers import batching_backend, heartbeat
    from workers.celery import app

    with start_worker(app, pool="threads", concurrency=8, queues=["infer"], perform_ping_check=False,
                      loglevel="WARNING"):  # fmt: skip
        heartbeat.heartbeat()  # a `celery worker` announces itself on worker_ready, which the test worker never sends
        yield
    heartbeat.stop_heartbeat()  # the test worker lives in this process: its heartbeat must end with it
    for loaded in batching_backend.model_cache()._models.values():
        loaded.engine.stop()
    batching_backend.model_cache.cache_clear()


def record_evaluation(commit, **metrics):
    """The store's evaluation of `commit` on the standard set, recorded as passed (evaluation is tested in
    tests/evaluation; elsewhere a commit only needs one to be listed)."""
    from evaluation import standard_set
    from evaluation.models import DatasetKind, Evaluation, EvaluationStatus

    current = standard_set.load()
    figures = {"bits_per_byte": 2.0, "perplexity": 30.0, "tokens_per_second_b1": 50.0, "tokens_per_second_b8": 200.0,
               "parameters": 141_000, "weight_bytes": 600_000} | metrics  # fmt: skip
    return Evaluation.objects.create(
        commit=commit, dataset_kind=DatasetKind.STANDARD, dataset_name=current.name, dataset_version=current.version,
        dataset_sha256=current.sha256, form="text", status=EvaluationStatus.SUCCEEDED, device="cpu: test",
        metrics=figures,
    )  # fmt: skip


def commit_valid_checkpoint(owner, name: str, directory: Path, *, context_length: int, evaluated: bool = True):
    """A new model `owner/name` holding the checkpoint's files in one commit, marked valid (validation is
    tested elsewhere) and, unless `evaluated` is False, evaluated."""
    from registry import services
    from registry.models import Commit, ValidationStatus

    model = services.create_model(owner=owner, name=name)
    operations = []
    for path in sorted(path for path in directory.rglob("*") if path.is_file()):
        data = path.read_bytes()
        blob = services.ingest_upload(user=owner, incoming_stream=[data], size=len(data))
        operations.append(services.AddFile(path=path.relative_to(directory).as_posix(), blob=blob))
    commit = services.commit_changes(model_id=model.pk, author=owner, operations=operations, message="upload")
    Commit.objects.filter(pk=commit.pk).update(
        validation_status=ValidationStatus.VALID, validation_report={"context_length": context_length}
    )
    commit.refresh_from_db()
    if evaluated:
        record_evaluation(commit)
    return commit


@pytest.fixture
def served_commit(provider, tiny_checkpoint):
    """alice/tiny-gpt with the tiny checkpoint committed and marked valid."""
    return commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end the sessions that threads of this process left open: the pool
    threads of the in-process Celery workers keep their persistent connections (CONN_MAX_AGE), and PostgreSQL
    refuses to drop a database in use."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
