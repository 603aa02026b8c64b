from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.errors import not_found
from config.health import healthz, readyz
from marketplace.urls import profile_urlpatterns
from registry.api.urls import api_urlpatterns, cas_urlpatterns, file_urlpatterns
from serving.status import status_page

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("serving.urls")),
    path("v1/", include("evals.urls")),
    # any other /v1 path answers 404 in the OpenAI shape here, before the web's routes (owner/name) see it
    re_path(r"^v1/", csrf_exempt(not_found)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("accounts.api_urls")),
    path("api/", include("marketplace.api.urls")),
    path("api/", include("evaluation.api_urls")),
    path("api/", include("compression.urls")),
    path("api/", include("registry.api.portal_urls")),
    *api_urlpatterns,
    *cas_urlpatterns,
    path("status", status_page, name="status"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # browsers ask for /favicon.ico whatever the page's <link rel="icon"> says
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True), name="favicon"),
    path("", include("accounts.urls")),
    path("", include("marketplace.urls")),
    path("", include("training.urls")),
    path("", include("evaluation.urls")),
    path("", include("evals.web_urls")),
    path("", include("compression.web_urls")),
    *file_urlpatterns,
    path("", include("registry.urls")),
    *profile_urlpatterns,
]
handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
