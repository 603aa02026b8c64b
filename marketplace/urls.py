from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from marketplace.views import accounts as views
from marketplace.views import provider, wallet
from registry.api.urls import NAME, NS

urlpatterns = [
    path("signup", views.signup, name="signup"),
    path("login", auth_views.LoginView.as_view(template_name="marketplace/login.html"), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/keys", views.keys, name="keys"),
    path("settings/keys/<int:key_id>/revoke", views.revoke_key, name="revoke-key"),
    path("settings/keys/<int:key_id>/limits", views.key_limits, name="key-limits"),
    path("settings/wallet", wallet.wallet, name="wallet"),
    path("settings/usage", wallet.usage, name="usage"),
    path("settings/usage.csv", wallet.usage_csv, name="usage-csv"),
    path("settings/earnings", provider.earnings, name="earnings"),
    re_path(rf"^{NS}/{NAME}/listing$", provider.edit_listing, name="listing-edit"),
    re_path(rf"^{NS}/{NAME}/listing/publish$", provider.publish_listing, name="listing-publish"),
]
