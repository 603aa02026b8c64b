"""Build the demo model `demo/pydoc-gpt` (marketplace.services.demo_model): in the foreground, or with
--background queued on the train worker so the store can serve meanwhile (what `make run` does)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from engine import demo
from marketplace.services import demo_model


class Command(BaseCommand):
    help = "Train and publish the demo model demo/pydoc-gpt (a few minutes on 2 CPU cores)."

    def add_arguments(self, parser):
        parser.add_argument("--if-absent", action="store_true", help="do nothing when a valid demo model exists")
        parser.add_argument("--background", action="store_true",
                            help="queue the build on the train worker and return at once")  # fmt: skip
        parser.add_argument("--steps", type=int, default=demo.STEPS)
        parser.add_argument("--vocab-size", type=int, default=4096)

    def handle(self, *args, if_absent, background, steps, vocab_size, **options):
        if steps < 1 or vocab_size < 300:
            raise CommandError("--steps must be ≥ 1 and --vocab-size ≥ 300")
        head = demo_model.published_commit()
        if head is not None and if_absent:
            demo_model.list_in_store(head.model)
            self.stdout.write(f"{demo_model.OWNER}/{demo_model.NAME} is already published ({head.sha[:12]})")
            return
        if background:
            queued = demo_model.build_in_background(steps=steps, vocab_size=vocab_size)
            self.stdout.write("the demo model is queued on the train worker; the home page shows its progress"
                              if queued else "the demo model is already being built")  # fmt: skip
            return
        with tqdm(total=steps, desc="pretraining", unit="step") as bar:

            def on_step(step: int, loss: float) -> None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.2f}")

            try:
                built = demo_model.build(steps=steps, vocab_size=vocab_size, on_step=on_step, say=self.stdout.write)
            except demo_model.DemoFailed as exc:
                raise CommandError(str(exc)) from None
        commit = built.commit
        self.stdout.write(
            f"published {demo_model.OWNER}/{demo_model.NAME}@{commit.sha[:12]}: "
            f"{commit.validation_report['parameters']:,} parameters, loss {built.final_loss:.2f} after {steps} steps "
            f"({built.seconds:.0f} s), {built.bits_per_byte:.3f} bits per byte on the held-out topics"
        )
