"""docs/evaluation.md's tagging walk-through runs as it is written: the demo model (bootstrap_demo, a few steps)
fine-tuned on a tagging set through the stock openai client, a held-out set uploaded under evals/ with the stock
huggingface_hub client, the new commit validated and evaluated by a real job worker, and its entity report read
from the evaluations API. Only the server's address, the key and the waiting are swapped in."""

import io
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from core import outbox
from marketplace.money import MICRO
from marketplace.services import ledger
from tests.conftest import start_worker_process

pytestmark = pytest.mark.django_db(transaction=True)
DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"


def test_the_tagging_walkthrough(live_server, consumer, make_key, tmp_path, capsys):
    call_command("bootstrap_demo", "--steps", "3", "--vocab-size", "400", stdout=io.StringIO(), stderr=io.StringIO())
    ledger.top_up(user=consumer, amount=10 * MICRO)
    section = DOC.read_text().split("\n## Walk-through: a tagging model, from fine-tune to its report\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    key = make_key(consumer, scopes=("read", "write", "infer", "finetune"))
    code = code.replace('"http://127.0.0.1:8000", "gpts_..."', f"{live_server.url!r}, {key!r}")
    deadline = time.monotonic() + 300

    def sleep(seconds: float) -> None:
        assert time.monotonic() < deadline, "the walk-through waited too long"
        outbox.deliver_due()  # what beat does: a validated commit's evaluation is queued through the outbox
        time.sleep(seconds)

    assert code.count("time.sleep(2)") == 2
    code = code.replace("time.sleep(2)", "sleep(2)")
    worker = start_worker_process("-Q", f"{settings.JOB_QUEUES['cpu']},validate", "-P", "solo",
                                  log_path=tmp_path / "worker.log")  # fmt: skip
    try:
        exec(compile(code, "docs/evaluation.md", "exec"), {"sleep": sleep, "__name__": "walkthrough"})
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    lines = capsys.readouterr().out.splitlines()
    header = lines.index(next(line for line in lines if "precision" in line))
    rows = {line.split()[0]: line.split() for line in lines[header + 1 :] if line.strip()}
    assert rows["LOC"][-1] == rows["PER"][-1] == "4"  # support: 4 held-out rows, one of each a row
    assert rows["micro"][:2] == ["micro", "avg"] and rows["micro"][-1] == "8"
    assert re.fullmatch(r"token accuracy (0|1|0\.\d+|1\.0)", lines[-1])
