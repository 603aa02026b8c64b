"""A worker SIGKILLed mid-distillation: the job's lease runs out, another worker claims it, resumes from the saved
state of the student (weights, optimizer, RNGs, data position) and ends with one result model whose weights equal
those of a distillation never interrupted, byte for byte."""

import pytest

from registry.models import Commit, Model
from tests.training.test_resume import (  # noqa: F401  (fixtures: clean_env, dataset, wider_checkpoint)
    clean_env,
    dataset,
    final_weights,
    steady_then_killed,
    wider_checkpoint,
)
from training import jobs
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db(transaction=True)


def start(provider, dataset, suffix: str) -> FineTuningJob:
    method = {"type": "distill", "distill": {"student": {"n_layer": 2, "n_head": 4, "n_embd": 256},
                                             "hyperparameters": {"n_epochs": 2, "batch_size": 4}}}  # fmt: skip
    return jobs.create_job(user=provider, api_key=None, model="alice/wider", training_file=dataset.public_id,
                           suffix=suffix, seed=5, method_spec=method)  # fmt: skip


def test_a_killed_distillation_resumes_and_ends_with_one_result(provider, dataset, tmp_path, clean_env):
    # in the second epoch: 12 steps an epoch, state every 3
    steady, resumed = steady_then_killed(lambda suffix: start(provider, dataset, suffix), tmp_path, killed_at_step=16)
    assert resumed.attempts == 2
    started = [e.message for e in resumed.events.order_by("id") if e.message.startswith("Distillation started")]
    assert started == ["Distillation started", "Distillation started (attempt 2)"]
    assert Model.objects.filter(name__startswith="wider-distilled-killed").count() == 1
    commits = Commit.objects.filter(model=resumed.result_model)
    assert sorted(commits.values_list("message", flat=True)) == [
        f"Distill {resumed.public_id}, step 12", f"Distill {resumed.public_id}, step 24"]  # fmt: skip
    assert all(c.base_relation == "distilled" for c in commits)
    assert final_weights(resumed) == final_weights(steady)
    assert resumed.trained_tokens == steady.trained_tokens
