from django.urls import path, re_path

from evaluation import views
from registry.api.urls import NAME, NS

urlpatterns = [
    path("leaderboard", views.leaderboard_page, name="leaderboard"),
    re_path(rf"^{NS}/{NAME}/commit/(?P<sha>[0-9a-f]{{40}})/evaluate$", views.evaluate_again, name="model-evaluate"),
]
