"""The demo model `demo/pydoc-gpt`: a tokenizer and a small GPT-2 trained here on Python's own docs and docstrings,
published through the same services an upload uses, then validated and listed (free, weights downloadable).

`make demo` builds it in the foreground (manage.py bootstrap_demo); `make run` queues the same build on the train
worker (`build_in_background`) so the store serves at once, and the home page shows `progress()` until the model is
published. Progress lives in the cache (Redis) under one key: a dict with state queued | training | validating |
published | failed, the step, the steps, the last loss and when it last moved."""

import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from accounts.models import User
from engine import demo, pretrain, scoring
from marketplace.models import Listing
from marketplace.services import listings
from registry import services
from registry.models import Commit, Model, ValidationStatus

OWNER = "demo"
NAME = "pydoc-gpt"
PROGRESS_KEY = "demo-model:progress"
PROGRESS_SECONDS = 7 * 24 * 3600
STALE_SECONDS = 600  # a build whose progress has not moved for this long is taken as lost (a killed worker)
REPORT_EVERY = 10  # steps between two progress writes
CARD = """---
license: psf-2.0
language: en
pipeline_tag: text-generation
---
# pydoc-gpt

A small GPT-2 ({parameters:,} parameters) trained by this store on the documentation topics that ship with
Python (`pydoc_data.topics`), with a byte-level BPE tokenizer of {vocab} tokens trained on the same text, and on
the longer docstrings of Python's standard library ({docstring_share} % of the training text).

- training: {steps} steps × {batch} sequences × {seq_len} tokens, final loss {loss:.2f}, {seconds:.0f} s on CPU
- optimizers: Muon for the weight matrices of the blocks, AdamW for embeddings, biases and norms
- schedule: a 20-step warm-up, the rate held, then decayed linearly to zero over the last 40 % of the steps;
  each pass over the text takes every window once, in a shuffled order
- held out: {held} of the topics, on which it scores {bpb:.3f} bits per byte
- nothing was downloaded: tokenizer, weights and data were all made on this machine

It is a demonstration model: expect Python-documentation-flavoured text, not facts.
"""


class DemoFailed(Exception):
    """The trained demo model did not validate."""


@dataclass(frozen=True)
class Built:
    commit: Commit
    final_loss: float
    seconds: float
    bits_per_byte: float


def published_commit() -> Commit | None:
    """The demo model's head commit when it is valid, else None."""
    model = Model.objects.filter(owner__username=OWNER, name=NAME).first()
    head = services.head_commit(model=model) if model is not None else None
    return head if head is not None and head.validation_status == ValidationStatus.VALID else None


def build(*, steps: int = demo.STEPS, vocab_size: int = 4096, on_step: Callable[[int, float], None] | None = None,
          say: Callable[[str], None] = lambda _: None) -> Built:  # fmt: skip
    """Train, commit, validate and list the demo model (a new commit if the model exists). Progress is recorded."""
    owner = _owner()
    model = (Model.objects.filter(owner=owner, name=NAME).first()
             or services.create_model(owner=owner, name=NAME, is_private=False))  # fmt: skip
    texts, held = demo.split(pretrain.pydoc_corpus())
    say(
        f"training a {vocab_size}-token BPE tokenizer and the model on {len(texts)} pydoc topics ({len(held)} held out)…"
    )
    record(state="training", step=0, steps=steps)

    def step_done(step: int, loss: float) -> None:
        if on_step is not None:
            on_step(step, loss)
        if step % REPORT_EVERY == 0 or step == steps:
            record(state="training", step=step, steps=steps, loss=round(loss, 3))

    gpt, tokenizer, result = demo.train(texts, vocab_size=vocab_size, steps=steps, on_step=step_done)
    bpb = scoring.bits_per_byte(gpt, tokenizer, held, seq_len=demo.SEQ_LEN)
    record(state="validating", step=steps, steps=steps, loss=round(result.final_loss, 3))
    with tempfile.TemporaryDirectory() as folder:
        directory = pretrain.save_checkpoint(gpt, tokenizer, Path(folder))
        (directory / "README.md").write_text(CARD.format(
            parameters=gpt.num_parameters(), vocab=len(tokenizer), steps=steps, batch=demo.BATCH, seq_len=demo.SEQ_LEN,
            loss=result.final_loss, seconds=result.seconds, held=f"{len(held)} ({100 // demo.HOLD_OUT_EVERY} %)",
            bpb=bpb, docstring_share=round(100 * demo.DOCSTRING_SHARE),
        ))  # fmt: skip
        operations: list[services.Operation] = []
        for path in sorted(directory.iterdir()):
            with open(path, "rb") as handle:
                blob = services.ingest_upload(user=owner, incoming_stream=iter(functools.partial(handle.read, 1 << 20), b""),
                                              size=path.stat().st_size)  # fmt: skip
            operations.append(services.AddFile(path=path.name, blob=blob))
    commit = services.commit_changes(model_id=model.pk, author=owner, operations=operations,
                                     message=f"Pretrain on pydoc topics ({steps} steps)")  # fmt: skip
    say("validating…")
    from registry.tasks import validate_commit  # a task module: the service layer does not import it at load

    validate_commit.apply(args=[commit.pk], task_id=f"bootstrap-{commit.sha}")
    commit.refresh_from_db()
    if commit.validation_status != ValidationStatus.VALID:
        record(state="failed", step=steps, steps=steps, error=commit.validation_error[:500])
        raise DemoFailed(f"the demo model did not validate: {commit.validation_error}")
    list_in_store(model)
    record(state="published", step=steps, steps=steps, loss=round(result.final_loss, 3))
    return Built(commit=commit, final_loss=result.final_loss, seconds=result.seconds, bits_per_byte=bpb)


def list_in_store(model: Model) -> None:
    """Offer the demo model in the store: free to call, weights downloadable (it was made from PSF text)."""
    if Listing.objects.published().filter(model=model).exists():
        return
    listings.publish_now(model=model, prompt_price="0", completion_price="0", is_downloadable=True,
                         title="pydoc-gpt (demo)")  # fmt: skip
    Listing.objects.filter(model=model).update(
        summary="A small GPT-2 trained by this store on Python's documentation topics.", license="psf-2.0",
        category="general", tags=["demo", "small"],
    )  # fmt: skip


def build_in_background(*, steps: int = demo.STEPS, vocab_size: int = 4096) -> bool:
    """Queue the build on the train worker unless one is queued or running (its progress moved lately).
    True when a build was queued now."""
    now = progress()
    if now is not None and now["state"] in ("queued", "training", "validating") and not now["stale"]:
        return False
    from marketplace.tasks import build_demo_model  # the task module imports this one

    record(state="queued", step=0, steps=steps)
    build_demo_model.apply_async(kwargs={"steps": steps, "vocab_size": vocab_size}, queue=settings.JOB_QUEUES["cpu"])
    return True


def record(*, state: str, step: int, steps: int, loss: float | None = None, error: str = "") -> None:
    cache.set(PROGRESS_KEY, {"state": state, "step": step, "steps": steps, "loss": loss, "error": error,
                             "at": time.time()}, PROGRESS_SECONDS)  # fmt: skip


def progress() -> dict | None:
    """The last recorded progress, with `stale` (it has not moved for STALE_SECONDS) and `percent`; None when no
    build was ever recorded or the cache cannot be reached."""
    try:
        found = cache.get(PROGRESS_KEY)
    except Exception:  # the cache is Redis: a page must not fail because a progress note cannot be read
        return None
    if not isinstance(found, dict):
        return None
    stale = time.time() - float(found.get("at", 0)) > STALE_SECONDS
    percent = round(100 * found["step"] / found["steps"]) if found.get("steps") else 0
    return {**found, "stale": stale, "percent": percent}


def _owner() -> User:
    with transaction.atomic():
        owner, created = User.objects.get_or_create(username=OWNER, defaults={"email": ""})
        if created:
            owner.set_unusable_password()
            owner.save(update_fields=["password"])
    return owner
