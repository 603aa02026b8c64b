"""/v1/files and /v1/fine_tuning/jobs with the stock `openai` client: what is created, what is refused (with
nothing created and nothing charged), and who sees what. The training itself is tests/training/test_fine_tune.py."""

import json

import openai
import pytest

from files.models import File as TrainingFile
from jobs.models import JobStatus
from marketplace.models import AccountKind, Reservation
from marketplace.money import MICRO
from marketplace.services import ledger, listings
from registry.models import Model
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = "\n".join(json.dumps({"prompt": f"Q{i}:", "completion": f" answer {i}"}) for i in range(12)).encode()


def client_for(live_server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0)


@pytest.fixture
def owner(live_server, provider, make_key, served_commit):
    """alice, who owns alice/tiny-gpt, with 10 credits and a key that may fine-tune."""
    ledger.top_up(user=provider, amount=10 * MICRO)
    return client_for(live_server, make_key(provider, scopes=("read", "finetune")))


@pytest.fixture
def uploaded(owner):
    return owner.files.create(file=("data.jsonl", EXAMPLES), purpose="fine-tune")


def wallet(user):
    account = ledger.account_for(user.pk, AccountKind.WALLET)
    return account.balance, account.held


def test_files_are_created_listed_read_and_deleted_by_their_owner_only(live_server, owner, uploaded, outsider,
                                                                        make_key):  # fmt: skip
    assert (uploaded.object, uploaded.bytes, uploaded.filename, uploaded.purpose, uploaded.status) == (
        "file",
        len(EXAMPLES),
        "data.jsonl",
        "fine-tune",
        "processed",
    )
    assert uploaded.id.startswith("file-")
    assert [f.id for f in owner.files.list().data] == [uploaded.id]
    assert owner.files.retrieve(uploaded.id).bytes == len(EXAMPLES)
    assert owner.files.content(uploaded.id).read() == EXAMPLES

    stranger = client_for(live_server, make_key(outsider, scopes=("read", "finetune")))
    for attempt in (lambda: stranger.files.retrieve(uploaded.id), lambda: stranger.files.content(uploaded.id),
                    lambda: stranger.files.delete(uploaded.id)):  # fmt: skip
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert stranger.files.list().data == []

    assert owner.files.delete(uploaded.id).deleted is True
    assert TrainingFile.objects.count() == 0


def test_a_line_nested_100k_deep_is_refused_by_its_number(owner):
    data = b'{"text": "fine"}\n{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"

    with pytest.raises(openai.BadRequestError) as refused:
        owner.files.create(file=("deep.jsonl", data), purpose="fine-tune")

    assert refused.value.body["message"] == "the training file is not valid: line 2: not valid JSON (nested too deeply)"
    assert TrainingFile.objects.count() == 0


def test_a_bad_file_is_refused_with_its_lines_and_nothing_is_stored(owner):
    bad = b'{"prompt": "a", "completion": "b"}\n{oops\n{"prompt": 1, "completion": "c"}\n'
    with pytest.raises(openai.BadRequestError) as caught:
        owner.files.create(file=("bad.jsonl", bad), purpose="fine-tune")
    assert caught.value.body["message"] == (
        "the training file is not valid: line 2: not valid JSON (Expecting property name enclosed in double quotes at "
        'column 2); line 3: "prompt" and "completion" must both be strings'
    )
    assert caught.value.body["param"] == "file"
    with pytest.raises(openai.BadRequestError) as caught:
        owner.files.create(file=("x.jsonl", EXAMPLES), purpose="assistants")
    assert caught.value.body["param"] == "purpose"
    assert TrainingFile.objects.count() == 0


def test_a_job_is_created_queued_with_its_estimate_held(owner, uploaded, provider):
    job = owner.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=uploaded.id, suffix="qa", seed=7,
                                        hyperparameters={"n_epochs": 2}, metadata={"team": "a"})  # fmt: skip
    row = FineTuningJob.objects.get()
    assert (job.id, job.object, job.status, job.seed, job.training_file) == (
        row.public_id,
        "fine_tuning.job",
        "queued",
        7,
        uploaded.id,
    )
    assert job.model == f"alice/tiny-gpt@{row.base_commit.sha}"
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.batch_size == 1
    assert job.hyperparameters.learning_rate_multiplier == 1.0
    assert (job.organization_id, job.metadata, job.fine_tuned_model, job.trained_tokens) == ("alice", {"team": "a"},
                                                                                             None, None)  # fmt: skip
    held = Reservation.objects.get(request_id=job.id).max_cost
    assert row.held == held > 0
    assert wallet(provider) == (10 * MICRO, held)
    messages = [event.message for event in owner.fine_tuning.jobs.list_events(job.id).data]
    assert messages[-1] == f"Created fine-tuning job {job.id} on alice/tiny-gpt@{row.base_commit.sha}"
    assert [j.id for j in owner.fine_tuning.jobs.list().data] == [job.id]

    cancelled = owner.fine_tuning.jobs.cancel(job.id)  # still queued: it ends at once, the hold goes back
    assert cancelled.status == "cancelled"
    assert wallet(provider) == (10 * MICRO, 0)
    with pytest.raises(openai.ConflictError):
        owner.fine_tuning.jobs.resume(job.id)  # a cancelled job cannot be resumed
    assert FineTuningJob.objects.get().status == JobStatus.CANCELLED


def _refused(call, error, param):
    with pytest.raises(error) as caught:
        call()
    assert caught.value.body["param"] == param, caught.value.body
    return caught.value.body["message"]


def test_bad_jobs_are_refused_and_nothing_is_created_or_charged(live_server, owner, uploaded, provider, outsider,
                                                                 consumer, make_key, tiny_checkpoint):  # fmt: skip
    create = owner.fine_tuning.jobs.create
    few = owner.files.create(file=("few.jsonl", b'{"text": "one"}\n{"text": "two"}\n'), purpose="fine-tune")
    theirs = client_for(live_server, make_key(outsider, scopes=("finetune",))).files.create(
        file=("t.jsonl", EXAMPLES), purpose="fine-tune"
    )
    assert "at least 10" in _refused(lambda: create(model="alice/tiny-gpt", training_file=few.id),
                                     openai.BadRequestError, "training_file")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=theirs.id), openai.NotFoundError, "file_id")
    _refused(lambda: create(model="nobody/nothing", training_file=uploaded.id), openai.NotFoundError, "model")
    _refused(lambda: create(model="alice/tiny-gpt", training_file=uploaded.id, method={"type": "dpo"}),
             openai.BadRequestError, "method.type")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=uploaded.id, hyperparameters={"n_epochs": 0}),
             openai.BadRequestError, "method.supervised.hyperparameters.n_epochs")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=uploaded.id,
                            hyperparameters={"learning_rate_multiplier": 1e9}),
             openai.BadRequestError, "method.supervised.hyperparameters.learning_rate_multiplier")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=uploaded.id, suffix="../evil"),
             openai.BadRequestError, "suffix")  # fmt: skip
    # issue #22: a trailing newline, a 400-digit integer (OverflowError), NUL (PostgreSQL DataError): each was
    # accepted or a 500
    _refused(lambda: create(model="alice/tiny-gpt", training_file=uploaded.id, suffix="nl\n"),
             openai.BadRequestError, "suffix")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=uploaded.id, hyperparameters={"n_epochs": 10**400}),
             openai.BadRequestError, "method.supervised.hyperparameters.n_epochs")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=uploaded.id, metadata={"k": "a\x00b"}),
             openai.BadRequestError, "metadata")  # fmt: skip
    _refused(lambda: create(model="alice/tiny\x00-gpt", training_file=uploaded.id), openai.BadRequestError, "model")
    for lora, param in (({"r": 0}, ".r"), ({"rank": 8}, ""), ({"dropout": 1}, ".dropout"),
                        ({"target_modules": []}, ".target_modules"),
                        ({"gradient_checkpointing": "yes"}, ".gradient_checkpointing")):  # fmt: skip
        _refused(lambda lora=lora: create(model="alice/tiny-gpt", training_file=uploaded.id,
                                          method={"type": "supervised", "supervised": {"lora": lora}}),
                 openai.BadRequestError, f"method.supervised.lora{param}")  # fmt: skip
    read_only = client_for(live_server, make_key(provider, scopes=("read",)))
    assert _refused(lambda: read_only.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=uploaded.id),
                    openai.PermissionDeniedError, None) == "This API key lacks the 'finetune' scope"  # fmt: skip

    # someone else's model: a call-only listing withholds the weights (403), as a pull would
    listings.publish_now(model=Model.objects.get(),
                         prompt_price="1", completion_price="1", is_downloadable=False)  # fmt: skip
    stranger = client_for(live_server, make_key(consumer, scopes=("finetune",)))
    data = stranger.files.create(file=("d.jsonl", EXAMPLES), purpose="fine-tune")
    with pytest.raises(openai.PermissionDeniedError):
        stranger.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=data.id)
    # and without credit: 429 insufficient_quota, as /v1 calls answer
    listings.publish_now(model=Model.objects.get(),
                         prompt_price="1", completion_price="1", is_downloadable=True)  # fmt: skip
    with pytest.raises(openai.RateLimitError) as caught:
        stranger.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=data.id)
    assert caught.value.body["code"] == "insufficient_quota"

    assert FineTuningJob.objects.count() == 0
    assert Reservation.objects.count() == 0
    assert wallet(provider) == (10 * MICRO, 0)


def test_fine_tuning_a_listed_model_pays_its_download_price_once(live_server, owner, consumer, make_key, settings):
    settings.REVIEW_LISTINGS = False
    listings.publish_now(model=Model.objects.get(), prompt_price="1", completion_price="1", is_downloadable=True,
                         download_price="0.5")  # fmt: skip
    ledger.top_up(user=consumer, amount=10 * MICRO)
    buyer = client_for(live_server, make_key(consumer, scopes=("read", "finetune")))
    data = buyer.files.create(file=("d.jsonl", EXAMPLES), purpose="fine-tune")

    first = buyer.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=data.id)
    second = buyer.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=data.id)

    holds = sum(Reservation.objects.filter(request_id__in=[first.id, second.id]).values_list("max_cost", flat=True))
    assert wallet(consumer) == (10 * MICRO - MICRO // 2, holds)  # the weights were paid for once, as a pull is
