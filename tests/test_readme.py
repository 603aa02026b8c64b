"""The README's fine-tuning and compression examples run as they are written: a consumer fine-tunes, then quantizes,
the demo model (built here by bootstrap_demo, a few steps) through the stock openai client, against a live server, a
real job worker process and an infer worker. Only the server's address, the key and the waiting are swapped in."""

import io
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from marketplace.money import MICRO
from marketplace.services import ledger
from tests.conftest import start_worker_process

pytestmark = pytest.mark.django_db(transaction=True)
README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(heading: str) -> str:
    section = README.read_text().split(f"\n## {heading}\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def run_example(heading: str, live_server, consumer, make_key, tmp_path) -> None:
    """Run the README's block under `heading` as a consumer with 10 credits, beside a job worker that validates."""
    call_command("bootstrap_demo", "--steps", "3", "--vocab-size", "400", stdout=io.StringIO(), stderr=io.StringIO())
    ledger.top_up(user=consumer, amount=10 * MICRO)
    code = readme_block(heading)
    deadline = time.monotonic() + 240

    def sleep(seconds: float) -> None:
        assert time.monotonic() < deadline, "the README example waited too long"
        time.sleep(seconds)

    code = code.replace("http://127.0.0.1:8000/v1", f"{live_server.url}/v1").replace(
        '"gpts_..."', repr(make_key(consumer, scopes=("read", "infer", "finetune")))
    )
    assert code.count("time.sleep(2)") == 2
    code = code.replace("time.sleep(2)", "sleep(2)")
    worker = start_worker_process(
        "-Q", f"{settings.JOB_QUEUES['cpu']},validate", "-P", "solo", log_path=tmp_path / "train.log"
    )
    try:
        exec(compile(code, "README.md", "exec"), {"sleep": sleep, "__name__": "readme"})
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_the_fine_tuning_example(live_server, consumer, make_key, infer_worker, tmp_path, capsys):
    run_example("Fine-tune", live_server, consumer, make_key, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    status, model, tokens = lines[0].split()
    assert (status, model) == ("succeeded", "bob/pydoc-gpt-ft-keywords") and int(tokens) > 0
    assert lines[1].split(" ", 1)[1].startswith(f"Job succeeded ({tokens} tokens trained, ")  # the newest event
    assert all(re.fullmatch(r"\d+ \S.*", line) for line in lines[1:6])  # five events: when, what
    assert len(lines) >= 6  # and the answer, which may be blank lines only for a model trained 3 steps


def test_the_compression_example(live_server, consumer, make_key, infer_worker, tmp_path, capsys):
    run_example("Compress", live_server, consumer, make_key, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "succeeded bob/pydoc-gpt-int8-small"
    assert len(lines) >= 2  # and the answer of the quantized model, through /v1


@pytest.mark.django_db(transaction=False)
def test_the_readme_opens_with_screenshots_that_exist():
    """The README opens with the catalogue and a model page (issue #23); the walk test in tests/e2e makes both."""
    opening = README.read_text().split("\n## ", 1)[0]
    images = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", opening)
    assert images == ["docs/catalogue.png", "docs/model-page.png"]
    for image in images:
        assert (README.parent / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
