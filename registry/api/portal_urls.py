from django.urls import path, re_path

from registry.api import portal
from registry.api.urls import NAME, NS

urlpatterns = [
    path("uploads", portal.UploadListView.as_view(), name="api-uploads"),
    path("uploads/<int:upload_id>", portal.UploadDetailView.as_view(), name="api-upload-detail"),
    path("uploads/commit", portal.CommitUploadsView.as_view(), name="api-uploads-commit"),
    re_path(
        rf"^models/{NS}/{NAME}/commits/(?P<sha>[0-9a-f]{{40}})/validation$",
        portal.ValidationView.as_view(),
        name="api-validation",
    ),
]
