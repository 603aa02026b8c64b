from django.urls import path

from evals import views

urlpatterns = [
    path("evals/<str:eval_id>/runs/<str:run_id>", views.report, name="eval-report"),
]
