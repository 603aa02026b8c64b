"""/v1/files takes the purposes the store uses (#24): `fine-tune` (training data), `evals` (an eval's items) and
`batch` (Batch API requests), each checked whole at upload, with the stock `openai` client. A fine-tuning job
takes only a `fine-tune` file."""

import json

import openai
import pytest

from files.models import File as TrainingFile
from tests.training.test_api import EXAMPLES, owner  # noqa: F401  (a fixture)
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db(transaction=True)

EVAL_ITEMS = b'{"item": {"question": "2+2?", "answer": "4"}}\n{"question": "capital of France?", "answer": "Paris"}\n'
BATCH = "\n".join(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                              "body": {"model": "alice/tiny-gpt", "messages": [{"role": "user", "content": "hi"}]}})
                  for i in range(3)).encode()  # fmt: skip


def test_evals_and_batch_files_are_stored_listed_and_filtered_by_purpose(owner):
    evals = owner.files.create(file=("items.jsonl", EVAL_ITEMS), purpose="evals")
    batch = owner.files.create(file=("requests.jsonl", BATCH), purpose="batch")
    data = owner.files.create(file=("data.jsonl", EXAMPLES), purpose="fine-tune")

    assert (evals.purpose, evals.bytes, batch.purpose, batch.bytes) == ("evals", len(EVAL_ITEMS), "batch", len(BATCH))
    assert [f.id for f in owner.files.list(purpose="evals").data] == [evals.id]
    assert [f.id for f in owner.files.list(purpose="batch").data] == [batch.id]
    assert {f.id for f in owner.files.list().data} == {evals.id, batch.id, data.id}
    assert owner.files.content(batch.id).read() == BATCH
    stored = {f.public_id: (f.format, f.examples) for f in TrainingFile.objects.all()}
    assert stored == {evals.id: ("jsonl", 2), batch.id: ("jsonl", 3), data.id: ("prompt_completion", 12)}


@pytest.mark.parametrize(("purpose", "content", "problem"), [
    ("batch", b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'
              b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n',
     "line 2: \"custom_id\" 'a' is used twice in the file"),
    ("batch", b'{"custom_id": "a", "method": "GET", "url": "/v1/chat/completions", "body": {}}\n',
     'line 1: "method" must be "POST"'),
    ("batch", b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {}}\n',
     'line 1: "url" must be one of /v1/chat/completions, /v1/completions'),
    ("evals", b'{"item": "not an object"}\n[1, 2]\n', 'line 1: "item" must be an object; line 2: each line must be a '
                                                     "JSON object"),
    ("evals", b"\n\n", "the file holds no lines"),
    ("assistants", EVAL_ITEMS, "purpose must be one of fine-tune, evals, batch, got 'assistants'"),
])  # fmt: skip
def test_a_bad_file_of_each_purpose_is_refused_by_its_lines_and_nothing_is_stored(owner, purpose, content, problem):
    with pytest.raises(openai.BadRequestError) as refused:
        owner.files.create(file=("bad.jsonl", content), purpose=purpose)

    assert problem in refused.value.body["message"]
    assert refused.value.body["param"] == ("purpose" if purpose == "assistants" else "file")
    assert TrainingFile.objects.count() == 0


def test_a_fine_tuning_job_takes_only_a_fine_tune_file(owner):
    evals = owner.files.create(file=("items.jsonl", EVAL_ITEMS), purpose="evals")
    data = owner.files.create(file=("data.jsonl", EXAMPLES), purpose="fine-tune")

    for training, validation, param in ((evals.id, None, "training_file"), (data.id, evals.id, "validation_file")):
        with pytest.raises(openai.BadRequestError) as refused:
            owner.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=training,
                                          **({"validation_file": validation} if validation else {}))  # fmt: skip
        assert refused.value.body["param"] == param
        assert refused.value.body["message"] == (f"{evals.id} was uploaded with purpose 'evals'; a fine-tuning job "
                                                 "needs a file uploaded with purpose 'fine-tune'")  # fmt: skip
    assert FineTuningJob.objects.count() == 0
