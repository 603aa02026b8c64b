from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.decorators.http import require_http_methods

from accounts import views
from accounts.password_reset import ResetSentView, ThrottledPasswordResetView

# Django's form views also answer PUT as a POST: a form page takes GET and POST, and 405 with Allow otherwise
FORM = require_http_methods(["GET", "POST"])

urlpatterns = [
    path("signup", views.signup, name="signup"),
    path("login", FORM(auth_views.LoginView.as_view(template_name="accounts/login.html")), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    # password reset by email (Django's views, requests throttled): the mail goes through EMAIL_BACKEND, the
    # console unless EMAIL_HOST names an SMTP server
    path("password-reset", FORM(ThrottledPasswordResetView.as_view()), name="password_reset"),
    path(
        "password-reset/sent",
        ResetSentView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>",
        FORM(auth_views.PasswordResetConfirmView.as_view(template_name="accounts/password_reset_confirm.html")),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_complete",
    ),
    path("settings/keys", views.keys, name="keys"),
    path("settings/notifications", views.notifications, name="notifications"),
    path("settings/keys/<int:key_id>/revoke", views.revoke_key, name="revoke-key"),
]
