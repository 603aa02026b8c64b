"""Every request a compression kind cannot honour is refused before anything exists: a 400 naming the param (403
for a base offered for calls only, as a pull and a fine-tune answer), no job, no hold, no charge, no model."""

import json

import openai
import pytest

from jobs.models import Job
from marketplace.models import Reservation
from marketplace.money import MICRO
from marketplace.services import ledger, listings
from registry import services as registry
from registry.models import BaseRelation, Commit, Model
from tests.training.test_api import _refused, client_for, wallet

pytestmark = pytest.mark.django_db(transaction=True)
CORPUS = "\n".join(json.dumps({"text": f"line {i} of a corpus to distill on"}) for i in range(12)).encode()


def test_bad_compression_jobs_are_refused_and_nothing_is_created_or_charged(live_server, provider, consumer, make_key,
                                                                            served_commit, settings):  # fmt: skip
    ledger.top_up(user=provider, amount=10 * MICRO)
    api = client_for(live_server, make_key(provider, scopes=("read", "finetune")))
    corpus = api.files.create(file=("corpus.jsonl", CORPUS), purpose="fine-tune")
    create = api.fine_tuning.jobs.create
    models_before = Model.objects.count()

    _refused(lambda: create(model="alice/tiny-gpt", training_file=None, method={"type": "shrink"}),
             openai.BadRequestError, "method.type")  # fmt: skip
    for ratio in (0, 1, 1.5, -0.2, "half", True):
        _refused(lambda ratio=ratio: create(model="alice/tiny-gpt", training_file=None,
                                            method={"type": "prune", "prune": {"ratio": ratio}}),
                 openai.BadRequestError, "method.prune.ratio")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=None,
                            method={"type": "prune", "prune": {"ratio": 0.5, "drop_layers": 2}}),
             openai.BadRequestError, "method.prune.drop_layers")  # fmt: skip
    same = {"n_layer": 2, "n_head": 2, "n_embd": 64}  # the teacher's own shape
    message = _refused(lambda: create(model="alice/tiny-gpt", training_file=corpus.id,
                                      method={"type": "distill", "distill": {"student": same}}),
                       openai.BadRequestError, "method.distill.student")  # fmt: skip
    assert message == "the student (141,056 parameters) must be smaller than its teacher (141,056)"
    _refused(lambda: create(model="alice/tiny-gpt", training_file=corpus.id,
                            method={"type": "distill", "distill": {"student": {"preset": "base"}}}),
             openai.BadRequestError, "method.distill.student")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=None,
                            method={"type": "distill", "distill": {"student": {"preset": "tiny"}}}),
             openai.BadRequestError, "training_file")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=corpus.id,
                            method={"type": "distill", "distill": {"student": {"preset": "tiny"}, "temperature": 0}}),
             openai.BadRequestError, "method.distill.temperature")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=None, method={"type": "quantize",
                                                                              "quantize": {"bits": 4}}),
             openai.BadRequestError, "method.quantize.bits")  # fmt: skip
    _refused(lambda: create(model="alice/tiny-gpt", training_file=corpus.id, method={"type": "quantize"}),
             openai.BadRequestError, "training_file")  # fmt: skip

    registry.create_model(owner=provider, name="tiny-gpt-int8-taken")
    _refused(lambda: create(model="alice/tiny-gpt", training_file=None, suffix="taken", method={"type": "quantize"}),
             openai.ConflictError, "suffix")  # fmt: skip

    # a calibration file of another user is refused as one that does not exist
    theirs = client_for(live_server, make_key(consumer, scopes=("read", "finetune"))).files.create(
        file=("c.jsonl", CORPUS), purpose="fine-tune")  # fmt: skip
    message = _refused(lambda: create(model="alice/tiny-gpt", training_file=None, method={
        "type": "prune", "prune": {"ratio": 0.5, "calibration_file": theirs.id}}),
        openai.BadRequestError, "method.prune.calibration_file")  # fmt: skip
    assert message == f"No such File object: {theirs.id}"

    # an already quantized model
    quantized = Commit.objects.get(pk=served_commit.pk)
    Commit.objects.filter(pk=quantized.pk).update(base_relation=BaseRelation.QUANTIZED)
    _refused(lambda: create(model="alice/tiny-gpt", training_file=None, method={"type": "quantize"}),
             openai.BadRequestError, "model")  # fmt: skip
    Commit.objects.filter(pk=quantized.pk).update(base_relation="")

    # a base the caller may not pull: offered for calls only (403, as a pull), or private (404: it does not exist)
    settings.REVIEW_LISTINGS = False
    listings.publish_now(model=served_commit.model, prompt_price="1", completion_price="1", is_downloadable=False)
    ledger.top_up(user=consumer, amount=10 * MICRO)
    stranger = client_for(live_server, make_key(consumer, scopes=("read", "finetune")))
    _refused(lambda: stranger.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=None,
                                                      method={"type": "quantize"}),
             openai.PermissionDeniedError, "model")  # fmt: skip
    Model.objects.filter(pk=served_commit.model_id).update(is_private=True)
    _refused(lambda: stranger.fine_tuning.jobs.create(model="alice/tiny-gpt", training_file=None,
                                                      method={"type": "quantize"}),
             openai.NotFoundError, "model")  # fmt: skip

    assert Job.objects.count() == 0 and Reservation.objects.count() == 0
    assert Model.objects.count() == models_before + 1  # tiny-gpt-int8-taken, made by the test
    assert wallet(provider) == (10 * MICRO, 0) and wallet(consumer) == (10 * MICRO, 0)
