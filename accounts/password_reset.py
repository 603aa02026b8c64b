"""Password reset by e-mail, throttled: each request may send a mail, so an address and a client may ask at
most PASSWORD_RESETS_PER_HOUR times an hour. Past it the form says so (429) and no mail is sent."""

from django.conf import settings
from django.contrib.auth import views as auth_views

from accounts import throttle

HOUR = 3600


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"

    def form_valid(self, form):
        limit = settings.PASSWORD_RESETS_PER_HOUR
        email = form.cleaned_data["email"].strip().lower()
        by_address = throttle.allow(f"reset:email:{email}", limit=limit, window_seconds=HOUR)
        by_client = throttle.allow(f"reset:ip:{throttle.client_address(self.request)}", limit=limit,
                                   window_seconds=HOUR)  # fmt: skip
        if not (by_address and by_client):
            form.add_error("email", f"Too many reset requests: at most {limit} an hour for an address and from "
                           "one client. Try again in an hour, or use the last mail you received.")  # fmt: skip
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)


class ResetSentView(auth_views.PasswordResetDoneView):
    """ "Check your email", saying how long the link works (PASSWORD_RESET_TIMEOUT, 3 days by default)."""

    template_name = "accounts/password_reset_sent.html"

    def get_context_data(self, **kwargs):
        hours = settings.PASSWORD_RESET_TIMEOUT // 3600
        valid_for = f"{hours // 24} day{'s' if hours // 24 != 1 else ''}" if hours >= 24 else f"{max(hours, 1)} hours"
        return super().get_context_data(**kwargs) | {"valid_for": valid_for}
