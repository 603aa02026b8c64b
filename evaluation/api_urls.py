from django.urls import path, re_path

from evaluation import api, leaderboard_api
from registry.api.urls import NAME, NS

urlpatterns = [
    re_path(rf"^v1/models/{NS}/{NAME}/evaluations$", api.EvaluationsView.as_view(), name="api-evaluations"),
    path("v1/leaderboard", leaderboard_api.LeaderboardView.as_view(), name="api-leaderboard"),
]
