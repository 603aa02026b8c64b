from django.urls import re_path

from registry import views
from registry.api.urls import NAME, NS

urlpatterns = [
    re_path(r"^new$", views.new_model, name="model-new"),
    re_path(rf"^{NS}/{NAME}/upload$", views.upload, name="model-upload"),
    re_path(rf"^{NS}/{NAME}/edit$", views.edit_card, name="model-edit-card"),
    re_path(rf"^{NS}/{NAME}/settings$", views.model_settings, name="model-settings"),
    re_path(rf"^{NS}/{NAME}/commits$", views.commit_list, name="model-commits"),
    re_path(rf"^{NS}/{NAME}/tree/(?P<revision>[^/]+)$", views.model_detail, name="model-revision"),
    re_path(rf"^{NS}/{NAME}/commit/(?P<revision>[0-9a-f]{{7,40}})$", views.model_detail, name="model-commit"),
    re_path(rf"^{NS}/{NAME}/commit/(?P<sha>[0-9a-f]{{40}})/revalidate$", views.revalidate, name="model-revalidate"),
    re_path(rf"^{NS}/{NAME}$", views.model_detail, name="model-detail"),
]
