"""The Evals API's rules: evals and their runs belong to their creator (anyone else gets 404); a run is a job
(jobs.services) of kind `evalrun`; its output items are stored by evals/run.py."""

import json

from django.db import transaction

from accounts.models import ApiKey, User
from core import json_input
from core.exceptions import Conflict, InvalidInput, NotFound
from evals.graders import check_criteria
from evals.models import Eval, OutputItem
from jobs import services as jobs
from jobs.models import FINISHED, Job

KIND = "evalrun"
MAX_SCHEMA_BYTES = 64_000


def create_eval(*, user: User, body: dict) -> Eval:
    config = body.get("data_source_config")
    if not isinstance(config, dict) or config.get("type") != "custom":
        raise InvalidInput("data_source_config.type must be 'custom'", param="data_source_config.type")
    extra = set(config) - {"type", "item_schema", "include_sample_schema"}
    if extra:
        field = f"data_source_config.{sorted(extra)[0]}"
        raise InvalidInput(f"{field} is not supported", param=field)
    schema = config.get("item_schema")
    if not isinstance(schema, dict) or schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise InvalidInput("data_source_config.item_schema must be a JSON schema of type object with properties",
                           param="data_source_config.item_schema")  # fmt: skip
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        raise InvalidInput("data_source_config.item_schema is too large", param="data_source_config.item_schema")
    criteria = check_criteria(body.get("testing_criteria"), set(schema["properties"]))
    return Eval.objects.create(owner=user, name=_name(body.get("name")), item_schema=schema,
                               include_sample_schema=bool(config.get("include_sample_schema")),
                               testing_criteria=criteria, metadata=json_input.metadata(body.get("metadata")))  # fmt: skip


def _name(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidInput("name must be a string of at most 200 characters", param="name")
    return value


def get_eval(*, user: User, eval_id: str) -> Eval:
    found = Eval.objects.filter(owner=user, public_id=eval_id).first()
    if found is None:
        raise NotFound(f"No eval found with id {eval_id!r}", param="eval_id")
    return found


def list_evals(*, user: User, after: str | None, limit: int, order: str) -> list[Eval]:
    found = Eval.objects.filter(owner=user).order_by("created_at" if order == "asc" else "-created_at", "pk")
    if after:
        pivot = get_eval(user=user, eval_id=after)
        found = found.filter(created_at__gt=pivot.created_at) if order == "asc" else found.filter(
            created_at__lt=pivot.created_at)  # fmt: skip
    return list(found[:limit])


def update_eval(*, user: User, eval_id: str, body: dict) -> Eval:
    found = get_eval(user=user, eval_id=eval_id)
    extra = set(body) - {"name", "metadata"}
    if extra:
        raise InvalidInput(f"{sorted(extra)[0]} cannot be updated: only name and metadata", param=sorted(extra)[0])
    if "name" in body:
        found.name = _name(body["name"])
    if "metadata" in body:
        found.metadata = json_input.metadata(body["metadata"])
    found.save(update_fields=["name", "metadata"])
    return found


def delete_eval(*, user: User, eval_id: str) -> str:
    found = get_eval(user=user, eval_id=eval_id)
    with transaction.atomic():
        if runs_of(found).exclude(status__in=FINISHED).exists():
            raise Conflict("the eval has a run in progress: cancel it first", param="eval_id")
        runs_of(found).delete()
        found.delete()
    return eval_id


def runs_of(evaluation: Eval):
    return Job.objects.filter(kind=KIND, params__eval_id=evaluation.public_id)


def create_run(*, user: User, api_key: ApiKey | None, eval_id: str, body: dict) -> Job:
    evaluation = get_eval(user=user, eval_id=eval_id)
    extra = set(body) - {"data_source", "name", "metadata"}
    if extra:
        raise InvalidInput(f"{sorted(extra)[0]} is not supported", param=sorted(extra)[0])
    spec = {"eval": evaluation, "data_source": body.get("data_source"), "name": _name(body.get("name")),
            "metadata": json_input.metadata(body.get("metadata"))}  # fmt: skip
    return jobs.submit(user=user, api_key=api_key, kind=KIND, spec=spec)


def get_run(*, user: User, eval_id: str, run_id: str) -> Job:
    evaluation = get_eval(user=user, eval_id=eval_id)
    found = runs_of(evaluation).filter(owner=user, public_id=run_id).first()
    if found is None:
        raise NotFound(f"No run found with id {run_id!r}", param="run_id")
    return found


def list_runs(*, user: User, eval_id: str, after: str | None, limit: int, order: str, status: str | None) -> list[Job]:
    found = runs_of(get_eval(user=user, eval_id=eval_id)).order_by("created_at" if order == "asc" else "-created_at")
    if after:
        pivot = get_run(user=user, eval_id=eval_id, run_id=after)
        found = found.filter(created_at__gt=pivot.created_at) if order == "asc" else found.filter(
            created_at__lt=pivot.created_at)  # fmt: skip
    return [run for run in found[: limit * 4] if status is None or run_status(run) == status][:limit]


def cancel_run(*, user: User, eval_id: str, run_id: str) -> Job:
    return jobs.cancel(get_run(user=user, eval_id=eval_id, run_id=run_id), param="run_id")


def delete_run(*, user: User, eval_id: str, run_id: str) -> str:
    found = get_run(user=user, eval_id=eval_id, run_id=run_id)
    if found.status not in FINISHED:
        raise Conflict("the run is in progress: cancel it first", param="run_id")
    found.delete()
    return run_id


def run_status(run: Job) -> str:
    """OpenAI's words for a run's state."""
    return {"queued": "queued", "running": "in_progress", "paused": "in_progress", "succeeded": "completed",
            "failed": "failed", "cancelled": "canceled"}.get(run.status, "queued")  # fmt: skip


def output_items(*, run: Job, after: str | None, limit: int, order: str, status: str | None) -> list[OutputItem]:
    found = OutputItem.objects.filter(run=run).order_by(
        "datasource_item_id" if order == "asc" else "-datasource_item_id"
    )
    if status:
        found = found.filter(status=status)
    if after:
        pivot = get_output_item(run=run, item_id=after)
        found = found.filter(datasource_item_id__gt=pivot.datasource_item_id) if order == "asc" else found.filter(
            datasource_item_id__lt=pivot.datasource_item_id)  # fmt: skip
    return list(found[:limit])


def get_output_item(*, run: Job, item_id: str) -> OutputItem:
    found = OutputItem.objects.filter(run=run, public_id=item_id).first()
    if found is None:
        raise NotFound(f"No output item found with id {item_id!r}", param="output_item_id")
    return found
