from django.urls import path

from evals import api

ITEM = "evals/<str:eval_id>/runs/<str:run_id>/output_items/<str:item_id>"
urlpatterns = [
    path("evals", api.evals_collection, name="v1-evals"),
    path("evals/<str:eval_id>", api.eval_detail, name="v1-eval"),
    path("evals/<str:eval_id>/runs", api.runs_collection, name="v1-eval-runs"),
    path("evals/<str:eval_id>/runs/<str:run_id>", api.run_detail, name="v1-eval-run"),
    path("evals/<str:eval_id>/runs/<str:run_id>/cancel", api.run_cancel, name="v1-eval-run-cancel"),
    path("evals/<str:eval_id>/runs/<str:run_id>/output_items", api.output_items, name="v1-eval-output-items"),
    path(ITEM, api.output_item, name="v1-eval-output-item"),
]
