"""/v1/files and /v1/fine_tuning/jobs in the OpenAI shape, for the stock `openai` client. The rules live in
files/services.py and, for jobs, in jobs/ with training/jobs.py as the fine-tuning adapter; these views check the
caller and the method, parse, and shape the answers."""

from django.http import HttpRequest, HttpResponse, JsonResponse

from core import json_input
from core.exceptions import InvalidInput
from files import services as files
from files.models import File
from jobs.models import Job, JobCheckpoint, JobEvent
from serving.caller import v1_view
from training import jobs, method

READ, FINETUNE = "read", "finetune"
MAX_PAGE = 100


def _page(request: HttpRequest) -> tuple[str | None, int]:
    json_input.no_blank(request.GET, ("after",))
    after = request.GET.get("after") or None
    raw = request.GET.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"limit must be an integer between 1 and {MAX_PAGE}", param="limit")
    return after, int(raw)


def _listing(items: list, shape, limit: int) -> dict:
    data = [shape(item) for item in items]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(items) == limit}  # fmt: skip


def file_json(item: File) -> dict:
    return {"id": item.public_id, "object": "file", "bytes": item.bytes, "created_at": int(item.created_at.timestamp()),
            "filename": item.filename, "purpose": item.purpose, "status": "processed", "status_details": None,
            "expires_at": None}  # fmt: skip


@v1_view({"GET": READ, "POST": FINETUNE})
def files_collection(request, user, api_key):  # noqa: ARG001  (every /v1 view gets the caller)
    if request.method == "GET":
        after, limit = _page(request)
        order = request.GET.get("order", "desc")
        if order not in ("asc", "desc"):
            raise InvalidInput("order must be 'asc' or 'desc'", param="order")
        found = files.list_files(user=user, purpose=request.GET.get("purpose"), after=after, limit=limit, order=order)
        return JsonResponse(_listing(found, file_json, limit))
    upload = request.FILES.get("file")
    if upload is None:
        raise InvalidInput("send the file as multipart/form-data field 'file'", param="file")
    created = files.create_file(user=user, filename=upload.name or "", purpose=request.POST.get("purpose", ""),
                                data=files.read_upload(upload))  # fmt: skip
    return JsonResponse(file_json(created))


@v1_view({"GET": READ, "DELETE": FINETUNE})
def file_detail(request, user, api_key, file_id: str):  # noqa: ARG001  (every /v1 view gets the caller)
    if request.method == "DELETE":
        return JsonResponse({"id": files.delete_file(user=user, file_id=file_id), "object": "file", "deleted": True})
    return JsonResponse(file_json(files.get_file(user=user, file_id=file_id)))


@v1_view({"GET": READ})
def file_content(request, user, api_key, file_id: str):  # noqa: ARG001  (every /v1 view gets the caller)
    return HttpResponse(files.read_file(user=user, file_id=file_id), content_type="application/octet-stream")


def job_json(job: Job) -> dict:
    resolved = job.params["method"]
    hyper = method.hyperparameters_of(resolved)
    train, valid = job.input("training"), job.input("validation")

    def stamp(value):
        return int(value.timestamp()) if value else None

    error = job.error or None
    return {
        "id": job.public_id, "object": "fine_tuning.job", "created_at": stamp(job.created_at),
        "finished_at": stamp(job.finished_at), "model": job.base_label,
        "fine_tuned_model": job.result_label or None if job.status == "succeeded" else None,
        "organization_id": job.owner.username, "status": job.status, "hyperparameters": hyper,
        "training_file": train.public_id if train else None, "validation_file": valid.public_id if valid else None,
        "result_files": [], "trained_tokens": job.units_done if job.is_finished else None,
        "error": error, "seed": job.params["seed"], "estimated_finish": stamp(job.estimated_finish), "method": resolved,
        "metadata": job.metadata or None, "integrations": None,
    }  # fmt: skip


@v1_view({"GET": READ, "POST": FINETUNE})
def jobs_collection(request, user, api_key):
    if request.method == "GET":
        after, limit = _page(request)
        return JsonResponse(_listing(jobs.list_jobs(user=user, after=after, limit=limit), job_json, limit))
    body = json_input.loads(request.body, what="the request body")
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidInput("model is required", param="model")
    job = jobs.create_job(
        user=user, api_key=api_key, model=body["model"], training_file=body.get("training_file"),
        validation_file=body.get("validation_file"), method_spec=body.get("method"),
        hyperparameters=body.get("hyperparameters"), suffix=body.get("suffix"), seed=body.get("seed"),
        metadata=body.get("metadata"),
    )  # fmt: skip
    return JsonResponse(job_json(job))


@v1_view({"GET": READ})
def job_detail(request, user, api_key, job_id: str):  # noqa: ARG001  (every /v1 view gets the caller)
    return JsonResponse(job_json(jobs.get_job(user=user, job_id=job_id)))


ACTIONS = {"cancel": jobs.cancel_job, "pause": jobs.pause_job, "resume": jobs.resume_job}


@v1_view({"POST": FINETUNE})
def job_action(request, user, api_key, job_id: str, action: str):  # noqa: ARG001  (every /v1 view gets the caller)
    ACTIONS[action](user=user, job_id=job_id)
    return JsonResponse(job_json(jobs.get_job(user=user, job_id=job_id)))


def event_json(event: JobEvent) -> dict:
    return {"id": f"ftevent-{event.pk}", "object": "fine_tuning.job.event", "created_at": int(event.created_at.timestamp()),
            "level": event.level, "message": event.message, "type": event.type, "data": event.data}  # fmt: skip


@v1_view({"GET": READ})
def job_events(request, user, api_key, job_id: str):  # noqa: ARG001  (every /v1 view gets the caller)
    after, limit = _page(request)
    found = jobs.list_events(user=user, job_id=job_id, after=after, limit=limit)
    return JsonResponse(_listing(found, event_json, limit))


def checkpoint_json(checkpoint: JobCheckpoint) -> dict:
    model = checkpoint.job.result_model
    metrics = {key: checkpoint.metrics.get(key) for key in ("step", "train_loss", "valid_loss",
                                                            "train_mean_token_accuracy")}  # fmt: skip
    return {
        "id": f"ftckpt-{checkpoint.pk}", "object": "fine_tuning.job.checkpoint",
        "created_at": int(checkpoint.created_at.timestamp()),
        "fine_tuned_model_checkpoint": f"{model.repo_id}@ckpt-step-{checkpoint.step_number}" if model else None,
        "fine_tuning_job_id": checkpoint.job.public_id, "metrics": metrics, "step_number": checkpoint.step_number,
    }  # fmt: skip


@v1_view({"GET": READ})
def job_checkpoints(request, user, api_key, job_id: str):  # noqa: ARG001  (every /v1 view gets the caller)
    after, limit = _page(request)
    found = jobs.list_checkpoints(user=user, job_id=job_id, after=after, limit=limit)
    return JsonResponse(_listing(found, checkpoint_json, limit))
