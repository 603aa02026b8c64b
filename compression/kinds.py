"""The compression kinds of job: `quantize`, `prune` and `distill`. Each starts from a commit the caller may pull (as
a fine-tune does, with the same paid download), is created through /v1/fine_tuning/jobs with `method.type` naming it,
and makes a new private model whose commits carry their lineage (base_model_relation quantized, pruned or
distilled). They are priced as training: TRAINING_PRICE_PER_1M_TOKENS per token trained (a distillation's tokens,
a pruning's recovery fine-tune; quantizing trains nothing, so only the base's download is paid)."""

import dataclasses

from django.conf import settings

from accounts.models import ApiKey, User
from compression import method
from core import json_input
from core.exceptions import Conflict, InvalidInput, NotFound
from engine.compress.shapes import gpt2_parameters
from files import services as files
from files.models import File, FilePurpose
from jobs.kinds import JobKind, Plan, register
from marketplace.services import downloads, job_charges
from registry import hub_metadata
from registry.models import BaseRelation, Commit, Model
from training import kinds as training
from training.base import fine_tunable_base

RELATIONS = {"quantize": BaseRelation.QUANTIZED, "prune": BaseRelation.PRUNED, "distill": BaseRelation.DISTILLED}
NAMES = {"quantize": "int8", "prune": "pruned", "distill": "distilled"}  # the result is <base>-<this>-<suffix or id>


class _Compression(JobKind):
    id_prefix = "ft"  # a fine-tuning job to the API: ftjob-...
    unit = "token"
    noun = "fine-tuning job"
    charge_key = "train"
    training_file = "optional"  # "required", "optional" (a recovery fine-tune) or "unused"

    def price(self, units: int) -> int:
        return job_charges.training_cost(units)

    def run(self, run) -> int:
        from compression import run as worker  # the ML runtime loads in job workers only

        return worker.compress(run)

    def plan(self, *, user: User, api_key: ApiKey | None, spec: dict) -> Plan:
        json_input.model_id(spec["model"])
        train = _optional_file(user, spec.get("training_file"), "training_file")
        if train is None and self.training_file == "required":
            raise InvalidInput(f"training_file is required for {self.name}: the corpus it trains on",
                               param="training_file")  # fmt: skip
        if train is not None and self.training_file == "unused":
            raise InvalidInput(f"{self.name} trains nothing: send training_file null or leave it out",
                               param="training_file")  # fmt: skip
        resolved = method.resolve(spec["method"], examples=train.examples if train else 0)
        base, commit = fine_tunable_base(user=user, model_id=spec["model"])
        config = commit_config(commit)
        inputs = self.check(resolved, Base(config=config, commit=commit, user=user))
        suffix, seed, metadata = (training.checked_suffix(spec.get("suffix")), training.checked_seed(spec.get("seed")),
                                  json_input.metadata(spec.get("metadata")))  # fmt: skip
        result_name = f"{base.name}-{NAMES[self.name]}-{suffix}" if suffix else None
        if result_name and Model.objects.filter(owner=user, name=result_name).exists():
            raise Conflict(f"you already have a model named {result_name}: choose another suffix", param="suffix")
        units = 0
        if train is not None:
            units = training.estimate(train=train, resolved=resolved, commit=commit).tokens
        label = f"{base.repo_id}@{commit.sha}"
        return Plan(
            params={"method": resolved, "suffix": suffix, "seed": seed}, estimated_units=units,
            inputs=inputs | ({"training": train} if train else {}), base_model=base, base_commit=commit,
            base_label=label, resource_class=settings.TRAINING_RESOURCE_CLASS, metadata=metadata,
            events=[f"Created {self.name} job {{job}} on {label}", *_described(train)],
            admit=lambda: downloads.grant_weights(model=base, commit=commit, user=user, api_key=api_key, pay=True),
        )  # fmt: skip

    def check(self, resolved: dict, base: "Base") -> dict[str, File]:
        """Refuse what this kind cannot do to this base; answer the job's other input files by role."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Base:
    """What a kind checks a request against: the base commit, its config.json, and the caller."""

    config: dict
    commit: Commit
    user: User


def _described(train: File | None) -> list[str]:
    return [f"Validated {train.filename}: {train.examples} examples"] if train else []


@register
class Quantize(_Compression):
    name = "quantize"
    started = "Quantization started"
    training_file = "unused"

    def check(self, resolved: dict, base: Base) -> dict[str, File]:  # noqa: ARG002  (int8 is the one choice)
        if base.config.get("quantization_config") or base.commit.base_relation == BaseRelation.QUANTIZED:
            raise InvalidInput(f"{base.commit.model.repo_id} is already quantized: quantize its parent instead",
                               param="model")  # fmt: skip
        return {}


@register
class Prune(_Compression):
    name = "prune"
    started = "Pruning started"

    def check(self, resolved: dict, base: Base) -> dict[str, File]:
        _gpt2_only(base.config, "prune")
        spec = resolved["prune"]
        if spec["drop_layers"] >= base.config["n_layer"]:
            raise InvalidInput(f"drop_layers must be below the model's {base.config['n_layer']} layers",
                               param="method.prune.drop_layers")  # fmt: skip
        calibration = spec["calibration_file"]
        if calibration is None:
            return {}
        found = _optional_file(base.user, calibration, "method.prune.calibration_file")
        return {"calibration": found} if found else {}


@register
class Distill(_Compression):
    name = "distill"
    started = "Distillation started"
    training_file = "required"

    def check(self, resolved: dict, base: Base) -> dict[str, File]:
        _gpt2_only(base.config, "distill")
        student = method.student_of(resolved)
        teacher_size, student_size = gpt2_parameters(base.config), student.parameters(base.config)
        if student_size >= teacher_size:
            raise InvalidInput(f"the student ({student_size:,} parameters) must be smaller than its teacher "
                               f"({teacher_size:,})", param="method.distill.student")  # fmt: skip
        return {}


def _gpt2_only(config: dict, kind: str) -> None:
    if config.get("model_type") != "gpt2" or config.get("quantization_config"):
        raise InvalidInput(f"{kind} works on unquantized GPT-2 models (model_type gpt2), not "
                           f"{config.get('model_type')!r}", param="model")  # fmt: skip


def _optional_file(user: User, file_id, param: str) -> File | None:
    if file_id is None:
        return None
    if not isinstance(file_id, str) or not file_id:
        raise InvalidInput(f"{param} must be a file id", param=param)
    try:
        return files.input_file(user=user, file_id=file_id, purpose=FilePurpose.FINE_TUNE, param=param,
                                use="a compression job")  # fmt: skip
    except NotFound:  # another user's file does not exist for the caller: the same answer as a made-up id
        raise InvalidInput(f"No such File object: {file_id}", param=param) from None


def commit_config(commit: Commit) -> dict:
    """The commit's config.json ({} when it has none a job could use: validation refused such a commit anyway)."""
    entry = commit.files.select_related("blob").filter(path=hub_metadata.CONFIG_PATH).first()
    return hub_metadata.read_config(entry.blob if entry else None)
