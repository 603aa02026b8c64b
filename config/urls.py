from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from registry.api.urls import api_urlpatterns, file_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("marketplace.api.openai_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("marketplace.api.urls")),
    path("api/", include("registry.api.portal_urls")),
    *api_urlpatterns,
    path("", include("marketplace.urls")),
    *file_urlpatterns,
    path("", include("registry.urls")),
]
handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
