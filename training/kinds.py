"""The two training kinds of job: `finetune` (a commit the caller may pull, trained further on their file) and
`pretrain` (a GPT trained from scratch on a corpus). Both charge TRAINING_PRICE_PER_1M_TOKENS per token trained,
hold the estimate (the file's tokens x epochs), and run on whatever worker class TRAINING_RESOURCE_CLASS names (any:
a GPU worker when one is free, else a CPU one). /v1/fine_tuning/jobs is their adapter (training/jobs.py)."""

import dataclasses
import re
import secrets

from django.conf import settings

from accounts.models import ApiKey, User
from core import json_input
from core.exceptions import Conflict, InvalidInput
from files import services as files
from files.models import File, FilePurpose
from jobs.kinds import JobKind, Plan, register
from marketplace.services import downloads, job_charges
from registry.models import Commit, Model
from training import method, records, tokens
from training.base import SCRATCH, fine_tunable_base

SUFFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class _Training(JobKind):
    id_prefix = "ft"
    unit = "token"
    noun = "fine-tuning job"
    started = "Fine-tuning started"
    charge_key = "train"

    def price(self, units: int) -> int:
        return job_charges.training_cost(units)

    def run(self, run) -> int:
        from training import run as worker  # the ML runtime loads in job workers only

        return worker.train(run)


@register
class FineTune(_Training):
    name = "finetune"

    def plan(self, *, user: User, api_key: ApiKey | None, spec: dict) -> Plan:
        train, valid, resolved = _common(spec, user=user)
        if resolved["type"] == "pretrain":
            raise InvalidInput("pretraining starts from nothing: send model='scratch'", param="model")
        base, commit = fine_tunable_base(user=user, model_id=spec["model"])
        if train.examples < settings.MIN_FINE_TUNE_EXAMPLES:
            raise InvalidInput(
                f"the training file has {train.examples} examples; fine-tuning needs at least "
                f"{settings.MIN_FINE_TUNE_EXAMPLES}", param="training_file",
            )  # fmt: skip
        suffix, seed, metadata = (
            checked_suffix(spec.get("suffix")),
            checked_seed(spec.get("seed")),
            json_input.metadata(spec.get("metadata")),
        )
        result_name = f"{base.name}-ft-{suffix}" if suffix else None
        if result_name and Model.objects.filter(owner=user, name=result_name).exists():
            raise Conflict(f"you already have a model named {result_name}: choose another suffix", param="suffix")
        planned = estimate(train=train, resolved=resolved, commit=commit)
        label = f"{base.repo_id}@{commit.sha}"
        return Plan(
            params={"method": resolved, "suffix": suffix, "seed": seed}, estimated_units=planned.tokens,
            inputs=_inputs(train, valid), base_model=base, base_commit=commit, base_label=label,
            resource_class=settings.TRAINING_RESOURCE_CLASS, metadata=metadata,
            events=[f"Created fine-tuning job {{job}} on {label}",
                    f"Validated {train.filename}: {train.examples} examples, {planned.per_pass} tokens a pass"],
            admit=lambda: downloads.grant_weights(model=base, commit=commit, user=user, api_key=api_key, pay=True),
        )  # fmt: skip


@register
class Pretrain(_Training):
    """A GPT trained from scratch on a corpus (method.type "pretrain", model "scratch"): the estimate is the
    corpus's UTF-8 bytes (a byte-level tokenizer never makes more tokens) x epochs."""

    name = "pretrain"

    def plan(self, *, user: User, api_key: ApiKey | None, spec: dict) -> Plan:  # noqa: ARG002  (nothing to pay for)
        train, valid, resolved = _common(spec, user=user)
        if spec["model"] != SCRATCH:
            raise InvalidInput("pretraining starts from nothing: send model='scratch'", param="model")
        if resolved["type"] != "pretrain":
            raise InvalidInput("model 'scratch' needs method.type 'pretrain'", param="method.type")
        if train.format not in ("plain", "text"):
            raise InvalidInput('a pretraining corpus is plain text or {"text": ...} lines', param="training_file")
        suffix, seed, metadata = (
            checked_suffix(spec.get("suffix")),
            checked_seed(spec.get("seed")),
            json_input.metadata(spec.get("metadata")),
        )
        planned = estimate(train=train, resolved=resolved, commit=None)
        preset = resolved["pretrain"]["preset"]
        return Plan(
            params={"method": resolved, "suffix": suffix, "seed": seed}, estimated_units=planned.tokens,
            inputs=_inputs(train, valid), base_label=SCRATCH, resource_class=settings.TRAINING_RESOURCE_CLASS,
            metadata=metadata,
            events=[f"Created pretraining job {{job}}: a {preset} GPT from scratch",
                    f"Validated {train.filename}: {train.examples} texts, at most {planned.per_pass} tokens a pass"],
        )  # fmt: skip


def _common(spec: dict, *, user: User) -> tuple[File, File | None, dict]:
    """What both kinds check first, in the order the API always answered: the model id, the files, the method."""
    json_input.model_id(spec["model"])
    if not isinstance(spec.get("training_file"), str) or not spec["training_file"]:
        raise InvalidInput("training_file is required", param="training_file")
    train = _training_data(user, spec["training_file"], "training_file")
    valid = _training_data(user, spec["validation_file"], "validation_file") if spec.get("validation_file") else None
    resolved = method.resolve(method=spec.get("method"), hyperparameters=spec.get("hyperparameters"),
                              examples=train.examples)  # fmt: skip
    return train, valid, resolved


def _training_data(user: User, file_id: str, param: str) -> File:
    return files.input_file(user=user, file_id=file_id, purpose=FilePurpose.FINE_TUNE, param=param,
                            use="a fine-tuning job")  # fmt: skip


def _inputs(train: File, valid: File | None) -> dict[str, File]:
    return {"training": train} | ({"validation": valid} if valid else {})


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What a job will train, as its hold prices it: the file's tokens with the base's tokenizer (UTF-8 bytes, an
    upper bound, from scratch) for each of its epochs."""

    per_pass: int
    epochs: int

    @property
    def tokens(self) -> int:
        return self.per_pass * self.epochs

    @property
    def cost(self) -> int:
        return job_charges.training_cost(self.tokens)


def estimate(*, train: File, resolved: dict, commit: Commit | None) -> Estimate:
    """The estimate of a job on `train` (from `commit`, or from scratch), or InvalidInput past MAX_JOB_TOKENS."""
    planned = Estimate(per_pass=tokens.count(commit, records.read_records(train)),
                       epochs=method.hyperparameters_of(resolved)["n_epochs"])  # fmt: skip
    if planned.tokens > settings.MAX_JOB_TOKENS:
        raise InvalidInput(
            f"this job would train {planned.tokens} tokens (the file's {planned.per_pass} x {planned.epochs} "
            f"epochs), over the limit of {settings.MAX_JOB_TOKENS}", param="training_file",
        )  # fmt: skip
    return planned


def checked_suffix(suffix) -> str:
    if suffix in (None, ""):
        return ""
    if not isinstance(suffix, str) or not SUFFIX.fullmatch(suffix):
        raise InvalidInput("suffix must be 1-64 letters, digits, '-' or '_', starting with a letter or digit",
                           param="suffix")  # fmt: skip
    return suffix


def checked_seed(seed) -> int:
    if seed is None:
        return secrets.randbelow(2**31)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise InvalidInput("seed must be an integer between 0 and 2147483647", param="seed")
    return seed
