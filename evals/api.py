"""/v1/evals in OpenAI's shape, for the stock `openai` client (`client.evals`, `client.evals.runs`,
`client.evals.runs.output_items`). The rules are evals/services.py's; these views check the caller, parse and shape.
Reading needs a key's `read` scope, creating and changing `infer` (a run calls models)."""

from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from core import json_input
from core.exceptions import InvalidInput
from evals import services
from evals.models import Eval, OutputItem
from jobs.models import Job
from serving.caller import v1_view

READ, WRITE = "read", "infer"
MAX_PAGE = 100


def _body(request: HttpRequest) -> dict:
    body = json_input.loads(request.body)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def _page(request: HttpRequest) -> tuple[str | None, int, str]:
    json_input.no_blank(request.GET, ("after",))
    raw = request.GET.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"limit must be an integer between 1 and {MAX_PAGE}", param="limit")
    order = request.GET.get("order", "asc")
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be 'asc' or 'desc'", param="order")
    return request.GET.get("after") or None, int(raw), order


def _listing(items: list, data: list[dict], limit: int) -> dict:
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(items) == limit}  # fmt: skip


def eval_json(evaluation: Eval) -> dict:
    schema = {"type": "object", "properties": {"item": evaluation.item_schema}, "required": ["item"]}
    return {"object": "eval", "id": evaluation.public_id, "name": evaluation.name,
            "data_source_config": {"type": "custom", "schema": schema},
            "testing_criteria": evaluation.testing_criteria, "created_at": int(evaluation.created_at.timestamp()),
            "metadata": evaluation.metadata}  # fmt: skip


def run_json(request: HttpRequest, run: Job) -> dict:
    params = run.params
    counts = {"total": 0, "passed": 0, "failed": 0, "errored": 0}
    per_criterion: dict[str, list[int]] = {}
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cached_tokens": 0, "invocation_count": 0}
    for status, results, sample in OutputItem.objects.filter(run=run).values_list("status", "results", "sample"):
        counts["total"] += 1  # one pass over the rows: counts, each criterion's tally and the usage
        counts["errored" if sample.get("error") else "passed" if status == "pass" else "failed"] += 1
        for result in results:
            per_criterion.setdefault(result["name"], [0, 0])[0 if result["passed"] else 1] += 1
        if sample.get("usage"):
            usage["invocation_count"] += 1
            for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                usage[key] += sample["usage"].get(key, 0)
    evaluation_id = params["eval_id"]
    return {
        "object": "eval.run", "id": run.public_id, "eval_id": evaluation_id, "name": params.get("name") or "",
        "status": services.run_status(run), "model": params["model"], "created_at": int(run.created_at.timestamp()),
        "data_source": {"type": "completions", "model": params["model"], "source": params["source"],
                        "input_messages": {"type": "template", "template": params["template"]},
                        "sampling_params": params["sampling"]},
        "result_counts": counts,
        "per_model_usage": [usage | {"model_name": params["model"]}] if usage["invocation_count"] else [],
        "per_testing_criteria_results": [{"testing_criteria": name, "passed": tally[0], "failed": tally[1]}
                                         for name, tally in per_criterion.items()],
        "report_url": request.build_absolute_uri(reverse("eval-report", args=[evaluation_id, run.public_id])),
        "error": ({"code": (run.error or {}).get("code", "failed"), "message": (run.error or {}).get("message", "")}
                  if run.status == "failed" else None),
        "metadata": run.metadata,
    }  # fmt: skip


def item_json(item: OutputItem, run: Job) -> dict:
    return {"object": "eval.run.output_item", "id": item.public_id, "run_id": run.public_id,
            "eval_id": run.params["eval_id"], "created_at": int(item.created_at.timestamp()), "status": item.status,
            "datasource_item_id": item.datasource_item_id, "datasource_item": item.datasource_item,
            "results": item.results, "sample": item.sample}  # fmt: skip


@v1_view({"GET": READ, "POST": WRITE})
def evals_collection(request, user, api_key):  # noqa: ARG001  (every /v1 view gets the caller)
    if request.method == "POST":
        return JsonResponse(eval_json(services.create_eval(user=user, body=_body(request))))
    after, limit, order = _page(request)
    found = services.list_evals(user=user, after=after, limit=limit, order=order)
    return JsonResponse(_listing(found, [eval_json(item) for item in found], limit))


@v1_view({"GET": READ, "POST": WRITE, "DELETE": WRITE})
def eval_detail(request, user, api_key, eval_id: str):  # noqa: ARG001
    if request.method == "DELETE":
        return JsonResponse({"object": "eval.deleted", "deleted": True,
                             "eval_id": services.delete_eval(user=user, eval_id=eval_id)})  # fmt: skip
    if request.method == "POST":
        return JsonResponse(eval_json(services.update_eval(user=user, eval_id=eval_id, body=_body(request))))
    return JsonResponse(eval_json(services.get_eval(user=user, eval_id=eval_id)))


@v1_view({"GET": READ, "POST": WRITE})
def runs_collection(request, user, api_key, eval_id: str):
    if request.method == "POST":
        run = services.create_run(user=user, api_key=api_key, eval_id=eval_id, body=_body(request))
        return JsonResponse(run_json(request, run))
    after, limit, order = _page(request)
    status = request.GET.get("status") or None
    if status not in (None, "queued", "in_progress", "completed", "canceled", "failed"):
        raise InvalidInput("status must be queued, in_progress, completed, canceled or failed", param="status")
    found = services.list_runs(user=user, eval_id=eval_id, after=after, limit=limit, order=order, status=status)
    return JsonResponse(_listing(found, [run_json(request, run) for run in found], limit))


@v1_view({"GET": READ, "POST": WRITE, "DELETE": WRITE})
def run_detail(request, user, api_key, eval_id: str, run_id: str):  # noqa: ARG001
    if request.method == "DELETE":
        return JsonResponse({"object": "eval.run.deleted", "deleted": True,
                             "run_id": services.delete_run(user=user, eval_id=eval_id, run_id=run_id)})  # fmt: skip
    if request.method == "POST":  # the client's runs.cancel
        return JsonResponse(run_json(request, services.cancel_run(user=user, eval_id=eval_id, run_id=run_id)))
    return JsonResponse(run_json(request, services.get_run(user=user, eval_id=eval_id, run_id=run_id)))


@v1_view({"POST": WRITE})
def run_cancel(request, user, api_key, eval_id: str, run_id: str):  # noqa: ARG001
    """The client's runs.cancel (POST …/cancel; the REST reference also cancels with POST on the run itself)."""
    return JsonResponse(run_json(request, services.cancel_run(user=user, eval_id=eval_id, run_id=run_id)))


@v1_view({"GET": READ})
def output_items(request, user, api_key, eval_id: str, run_id: str):  # noqa: ARG001
    run = services.get_run(user=user, eval_id=eval_id, run_id=run_id)
    after, limit, order = _page(request)
    status = request.GET.get("status") or None
    if status not in (None, "pass", "fail"):
        raise InvalidInput("status must be pass or fail", param="status")
    found = services.output_items(run=run, after=after, limit=limit, order=order, status=status)
    return JsonResponse(_listing(found, [item_json(item, run) for item in found], limit))


@v1_view({"GET": READ})
def output_item(request, user, api_key, eval_id: str, run_id: str, item_id: str):  # noqa: ARG001
    run = services.get_run(user=user, eval_id=eval_id, run_id=run_id)
    return JsonResponse(item_json(services.get_output_item(run=run, item_id=item_id), run))
