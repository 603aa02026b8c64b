"""The portal's new-model-from-scratch form: the check shows the corpus and the cost and creates nothing; the
confirmation creates the job and holds its estimate; a bad corpus is a form error with nothing created."""

import pytest
from django.test import Client

from files.models import File as TrainingFile
from marketplace.money import MICRO
from marketplace.services import ledger
from marketplace.services.job_charges import training_cost
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db
CORPUS = b"The with statement wraps a block.\n\nA list comprehension builds a list.\n\nExceptions are raised.\n"


@pytest.fixture
def alice(provider):
    ledger.top_up(user=provider, amount=10 * MICRO)
    client = Client()
    client.force_login(provider)
    return client


def test_check_then_confirm_a_pretraining_job(alice, provider):
    checked = alice.post("/new/from-scratch", {"corpus": _upload(CORPUS), "preset": "tiny", "vocab_size": 300,
                                               "n_epochs": 2, "suffix": "mine"})  # fmt: skip
    assert checked.status_code == 200
    corpus = TrainingFile.objects.get(owner=provider)
    page = checked.content.decode()
    size = sum(len(text.strip().encode()) + 1 for text in CORPUS.decode().split("\n\n"))  # each text and its end
    assert f"3</strong> texts, {size} bytes, × 2 epochs" in page
    assert FineTuningJob.objects.count() == 0

    confirmed = alice.post("/new/from-scratch", {"confirm": "yes", "dataset": corpus.public_id, "preset": "tiny",
                                                 "vocab_size": 300, "n_epochs": 2, "suffix": "mine"})  # fmt: skip
    job = FineTuningJob.objects.get()
    assert confirmed.status_code == 302 and confirmed["Location"] == f"/jobs/{job.public_id}"
    assert (job.base_label, job.method["pretrain"]["preset"], job.suffix) == ("scratch", "tiny", "mine")
    assert job.held == training_cost(size * 2)


def test_a_corpus_that_is_not_text_is_a_form_error_and_nothing_is_created(alice):
    answer = alice.post("/new/from-scratch", {"corpus": _upload(b"\xff\xfe\x00"), "preset": "tiny", "vocab_size": 300})
    assert answer.status_code == 200
    assert "the file is not UTF-8 text" in answer.content.decode()
    assert (TrainingFile.objects.count(), FineTuningJob.objects.count()) == (0, 0)


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("corpus.txt", data, content_type="text/plain")
