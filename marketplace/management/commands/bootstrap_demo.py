"""Build the demo model `demo/pydoc-gpt`: a tokenizer and a small GPT-2 trained here on Python's own docs and
docstrings, published through the same services an upload uses, then validated."""

import functools
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from accounts.models import User
from marketplace.models import Listing
from marketplace.services import listings
from registry import services
from registry.models import Model, ValidationStatus
from registry.tasks import validate_commit
from workers.engine import demo, pretrain

DEMO_OWNER = "demo"
DEMO_NAME = "pydoc-gpt"
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


class Command(BaseCommand):
    help = "Train and publish the demo model demo/pydoc-gpt (a few minutes on 2 CPU cores)."

    def add_arguments(self, parser):
        parser.add_argument("--if-absent", action="store_true", help="do nothing when a valid demo model exists")
        parser.add_argument("--steps", type=int, default=demo.STEPS)
        parser.add_argument("--vocab-size", type=int, default=4096)

    def handle(self, *args, if_absent, steps, vocab_size, **options):
        if steps < 1 or vocab_size < 300:
            raise CommandError("--steps must be ≥ 1 and --vocab-size ≥ 300")
        existing = Model.objects.filter(owner__username=DEMO_OWNER, name=DEMO_NAME).first()
        if existing is not None and if_absent:
            head = services.head_commit(model=existing)
            if head is not None and head.validation_status == ValidationStatus.VALID:
                self._list(existing)
                self.stdout.write(f"{DEMO_OWNER}/{DEMO_NAME} is already published ({head.sha[:12]})")
                return
        owner = self._owner()
        model = existing or services.create_model(owner=owner, name=DEMO_NAME, is_private=False)

        texts, held = demo.split(pretrain.pydoc_corpus())
        self.stdout.write(f"training a {vocab_size}-token BPE tokenizer and the model on {len(texts)} pydoc topics "
                          f"({len(held)} held out)…")  # fmt: skip
        batch, seq_len = demo.BATCH, demo.SEQ_LEN
        with tqdm(total=steps, desc="pretraining", unit="step") as bar:

            def on_step(step: int, loss: float) -> None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.2f}")

            gpt, tokenizer, result = demo.train(texts, vocab_size=vocab_size, steps=steps, on_step=on_step)
        bpb = demo.bits_per_byte(gpt, tokenizer, held)

        with tempfile.TemporaryDirectory() as folder:
            directory = pretrain.save_checkpoint(gpt, tokenizer, Path(folder))
            (directory / "README.md").write_text(
                CARD.format(
                    parameters=gpt.num_parameters(),
                    vocab=len(tokenizer),
                    steps=steps,
                    batch=batch,
                    seq_len=seq_len,
                    loss=result.final_loss,
                    seconds=result.seconds,
                    held=f"{len(held)} ({100 // demo.HOLD_OUT_EVERY} %)",
                    bpb=bpb,
                    docstring_share=round(100 * demo.DOCSTRING_SHARE),
                )
            )
            operations: list[services.Operation] = []
            for path in sorted(directory.iterdir()):
                with open(path, "rb") as handle:
                    blob = services.ingest_upload(
                        user=owner,
                        incoming_stream=iter(functools.partial(handle.read, 1 << 20), b""),
                        size=path.stat().st_size,
                    )
                operations.append(services.AddFile(path=path.name, blob=blob))
        commit = services.commit_changes(
            model_id=model.pk, author=owner, operations=operations, message=f"Pretrain on pydoc topics ({steps} steps)"
        )
        self.stdout.write("validating…")
        validate_commit.apply(args=[commit.pk], task_id=f"bootstrap-{commit.sha}")
        commit.refresh_from_db()
        if commit.validation_status != ValidationStatus.VALID:
            raise CommandError(f"the demo model did not validate: {commit.validation_error}")
        self._list(model)
        self.stdout.write(
            f"published {DEMO_OWNER}/{DEMO_NAME}@{commit.sha[:12]}: {commit.validation_report['parameters']:,} "
            f"parameters, loss {result.final_loss:.2f} after {steps} steps ({result.seconds:.0f} s), "
            f"{bpb:.3f} bits per byte on the held-out topics"
        )

    def _list(self, model: Model) -> None:
        """Offer the demo model in the store: free to call, weights downloadable (it was made from PSF text)."""
        if Listing.objects.published().filter(model=model).exists():
            return
        listings.publish_now(
            model=model, prompt_price="0", completion_price="0", is_downloadable=True, title="pydoc-gpt (demo)"
        )
        Listing.objects.filter(model=model).update(
            summary="A small GPT-2 trained by this store on Python's documentation topics.", license="psf-2.0",
            category="general", tags=["demo", "small"],
        )  # fmt: skip

    def _owner(self) -> User:
        with transaction.atomic():
            owner, created = User.objects.get_or_create(username=DEMO_OWNER, defaults={"email": ""})
            if created:
                owner.set_unusable_password()
                owner.save(update_fields=["password"])
        return owner
