"""A run's report page (its `report_url`): result counts, each criterion's tally, and every row with its sample and
grades. Only the run's creator sees it; anyone else gets 404."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from core.exceptions import NotFound
from evals import services
from evals.api import run_json
from evals.models import OutputItem


@login_required
def report(request, eval_id: str, run_id: str):
    try:
        run = services.get_run(user=request.user, eval_id=eval_id, run_id=run_id)
    except NotFound:
        raise Http404("No such run") from None
    return render(request, "evals/report.html", {
        "run": run_json(request, run), "evaluation": services.get_eval(user=request.user, eval_id=eval_id),
        "items": OutputItem.objects.filter(run=run).order_by("datasource_item_id")[:500],
    })  # fmt: skip
