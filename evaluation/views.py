"""/leaderboard: the published listings ranked by the store's own measures (plain HTML, sorted by links), and the
owner's "Evaluate again" on a commit's page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import InvalidInput
from evaluation import leaderboard, services, standard_set
from marketplace.services.catalogue import PARAMETER_BANDS
from registry import services as registry
from registry.exceptions import RepoNotFound
from registry.models import Commit, ValidationStatus


def leaderboard_page(request):
    try:
        query = leaderboard.parse(request.GET)
    except InvalidInput as exc:
        return render(request, "evaluation/leaderboard.html", {"error": exc, "query": leaderboard.Query(),
                                                               "bands": PARAMETER_BANDS}, status=400)  # fmt: skip
    columns = [{"key": key, "label": label, "link": query.link(key), "current": key == query.sort}
               for key, (label, _, _) in leaderboard.COLUMNS.items()]  # fmt: skip
    return render(request, "evaluation/leaderboard.html", {
        "rows": leaderboard.rows(query), "query": query, "columns": columns, "bands": PARAMETER_BANDS,
        "dataset": standard_set.load(),
    })  # fmt: skip


@login_required
@require_POST
def evaluate_again(request, namespace: str, name: str, sha: str):
    """The owner's "Evaluate again" button on a commit's page."""
    try:
        model = registry.find_model(namespace=namespace, name=name, user=request.user)
    except RepoNotFound:
        raise Http404("No such commit") from None
    commit = Commit.objects.filter(model=model, sha=sha, validation_status=ValidationStatus.VALID).first()
    if commit is None or not services.may_ask(request.user, model):
        raise Http404("No such commit")
    job = services.request_evaluation(commit)
    messages.success(request, f"The store is evaluating commit {sha[:12]} (job {job.public_id}).")
    return redirect("model-commit", namespace=namespace, name=name, revision=sha)
