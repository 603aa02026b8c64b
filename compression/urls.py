from django.urls import re_path

from compression import api
from registry.api.urls import NAME, NS

urlpatterns = [
    re_path(rf"^v1/models/{NS}/{NAME}/lineage$", api.LineageView.as_view(), name="api-lineage"),
]
