"""Password reset by email: the link arrives, works once, and sets the new password; an unknown address learns
nothing."""

import re

import pytest
from django.contrib.auth import authenticate
from django.core import mail

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-passphrase-42"


def test_reset_by_email(client, provider):
    sent = client.post("/password-reset", {"email": "alice@example.com"})
    assert (sent.status_code, sent["Location"]) == (302, "/password-reset/sent")
    assert "The link works once, for\n  3 days." in client.get(sent["Location"]).content.decode()  # was "a few day"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.to, message.subject) == (["alice@example.com"], "Reset your GPT store password")
    link = re.search(r"http://testserver(/password-reset/\S+)", message.body).group(1)

    form = client.get(link, follow=True)  # Django swaps the token for a session marker and redirects
    assert "Choose a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/password-reset/done")
    assert authenticate(username="alice", password=NEW_PASSWORD) == provider

    again = client.get(link, follow=True).content.decode()
    assert "This link no longer works" in again


def test_an_unknown_address_learns_nothing(client, provider):
    response = client.post("/password-reset", {"email": "nobody@example.com"})
    assert (response.status_code, response["Location"]) == (302, "/password-reset/sent")
    assert mail.outbox == []


def test_the_console_backend_is_the_default():
    from config import settings as configured  # as configured, before pytest-django swaps in its outbox

    assert configured.EMAIL_HOST == ""
    assert configured.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"


def test_reset_requests_are_throttled_by_address_and_by_client(client, provider, settings):
    settings.PASSWORD_RESETS_PER_HOUR = 3

    answers = [client.post("/password-reset", {"email": "alice@example.com"}).status_code for _ in range(4)]
    other = client.post("/password-reset", {"email": "nobody@example.com"})  # same client, another address

    assert answers == [302, 302, 302, 429]
    assert other.status_code == 429
    assert "Too many reset requests: at most 3 an hour" in other.content.decode()
    assert len(mail.outbox) == 3
