"""`/api/v1/models/{ns}/{name}/evaluations`: what the store measured of a revision (GET, anyone who may see the
model; a key needs `read`), and the owner's request for a new evaluation (POST, `write`). Figures the provider's card
claims (`model-index`) come apart, under `claimed`, never mixed with the verified ones."""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ScopeRequired
from core.exceptions import InvalidInput
from evaluation import services, standard_set
from evaluation.models import Evaluation
from registry import services as registry
from registry.exceptions import RepoNotFound
from registry.models import Commit, Model, ValidationStatus

REVISION = OpenApiParameter("revision", {"type": "string", "maxLength": 100, "pattern": "^[^\\x00]+$"},
                            description="a branch, tag or commit sha (default main)")  # fmt: skip


def evaluation_json(row: Evaluation, commit: Commit) -> dict:
    return {
        "object": "model.evaluation",
        "commit": commit.sha,
        "dataset": row.dataset,
        "form": row.form,
        "status": row.status,
        "verified": row.verified,
        "device": row.device,
        "method_version": row.method_version,
        "duration_seconds": round(row.duration_seconds, 3),
        "metrics": row.metrics,
        "reports": row.reports,
        "error": row.error or None,
        "job": row.job.public_id if row.job else None,
        "created": int(row.created_at.timestamp()),
    }


def pending_json(commit: Commit) -> dict | None:
    """The evaluation under way, as an item without figures (status queued or running)."""
    job = services.job_under_way(commit)
    if job is None:
        return None
    return {"object": "model.evaluation", "commit": commit.sha,
            "dataset": standard_set.load().describe() | {"kind": "standard"}, "form": "text",
            "status": "running" if job.status == "running" else "queued", "verified": True, "device": "",
            "metrics": {}, "job": job.public_id}  # fmt: skip


def claimed(model: Model) -> list[dict]:
    """The card's `model-index` results, flattened: what the provider says, not what the store measured."""
    found = []
    for entry in (model.card_data or {}).get("model-index") or []:
        for result in (entry.get("results") or []) if isinstance(entry, dict) else []:
            if not isinstance(result, dict):
                continue
            named = result.get("dataset")
            dataset: dict = named if isinstance(named, dict) else {}
            for metric in result.get("metrics") or []:
                if isinstance(metric, dict) and isinstance(metric.get("value"), int | float | str):
                    found.append({"dataset": str(dataset.get("name") or dataset.get("type") or "")[:200],
                                  "metric": str(metric.get("type") or metric.get("name") or "")[:100],
                                  "value": metric["value"], "verified": False})  # fmt: skip
    return found[:50]


def commit_of(request, namespace: str, name: str) -> tuple[Model, Commit]:
    model = registry.find_model(namespace=namespace, name=name, user=request.user)
    revision = request.query_params.get("revision", "main")
    if not revision or len(revision) > 100:
        raise InvalidInput("revision must be a branch, a tag or a commit sha", param="revision")
    return model, registry.resolve_revision(model=model, revision=revision)


class EvaluationsView(APIView):
    permission_classes = [AllowAny, ScopeRequired]
    required_scope = {"GET": "read", "POST": "write"}

    @extend_schema(parameters=[REVISION], responses={200: dict})
    def get(self, request, namespace: str, name: str):
        model, commit = commit_of(request, namespace, name)
        rows = services.results(commit)
        data = [evaluation_json(row, commit) for row in rows]
        if (pending := pending_json(commit)) is not None:
            data.insert(0, pending)
        return Response({"object": "list", "model": model.repo_id, "commit": commit.sha, "data": data,
                         "claimed": claimed(model)})  # fmt: skip

    @extend_schema(parameters=[REVISION], request=None, responses={202: dict})
    def post(self, request, namespace: str, name: str):
        """The owner asks for the revision to be evaluated again (the one under way, if any, is the answer)."""
        model, commit = commit_of(request, namespace, name)
        if not services.may_ask(request.user, model):
            raise RepoNotFound(f"Repository not found: {model.repo_id}")
        if commit.validation_status != ValidationStatus.VALID:
            raise InvalidInput(f"commit {commit.sha[:12]} is {commit.validation_status}: only a valid commit is "
                               "evaluated", param="revision")  # fmt: skip
        with transaction.atomic():
            job = services.request_evaluation(commit)
        return Response({"object": "model.evaluation_job", "id": job.public_id, "commit": commit.sha,
                         "status": job.status}, status=202)  # fmt: skip
