from django.urls import path

from marketplace.api import views

urlpatterns = [
    path("keys", views.ApiKeyListView.as_view(), name="api-keys"),
    path("keys/<int:key_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
