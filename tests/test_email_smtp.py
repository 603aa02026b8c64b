"""Email through a real SMTP server (aiosmtpd, on a free local port): the settings read EMAIL_* from the environment
and talk SMTP (manage.py sendtestemail in a process of its own); a password reset and a notification arrive as
messages, and the reset link works; a server that refuses mail does not undo the change a notification reports."""

import datetime as dt
import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import authenticate
from django.utils import timezone

from accounts import notifications
from accounts.models import Notification
from core import outbox
from core.models import OutboxEvent
from tests.conftest import free_port

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "an-smtp-delivered-passphrase-7"


class Inbox:
    """aiosmtpd handler: keeps each message with its envelope; refuses everything when `refuse` is set."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "554 5.7.1 refused by the test"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp):
    inbox, port = smtp
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    return inbox


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_the_environment_configures_smtp(smtp):
    inbox, port = smtp
    env = {**os.environ, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), "EMAIL_USE_TLS": "false",
           "DEFAULT_FROM_EMAIL": "Store <store@example.com>"}  # fmt: skip
    done = subprocess.run([sys.executable, "manage.py", "sendtestemail", "ops@example.com"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [(sender, recipients, message)] = inbox.messages
    assert (sender, recipients) == ("store@example.com", ["ops@example.com"])
    assert message["Subject"].startswith("Test email from")


def test_a_password_reset_arrives_by_smtp_and_its_link_works(client, provider, smtp_settings):
    sent = client.post("/password-reset", {"email": "alice@example.com"})
    assert (sent.status_code, sent["Location"]) == (302, "/password-reset/sent")
    [(_, recipients, message)] = smtp_settings.messages
    assert (recipients, message["Subject"]) == (["alice@example.com"], "Reset your GPT store password")
    link = re.search(r"http://testserver(/password-reset/\S+)", _body(message)).group(1)

    form = client.get(link, follow=True)
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/password-reset/done")
    assert authenticate(username="alice", password=NEW_PASSWORD) == provider


def test_a_notification_is_emailed_from_the_outbox_and_a_refusing_server_loses_nothing(provider, smtp_settings,
                                                                                        settings):  # fmt: skip
    settings.SITE_URL = "https://store.example"
    assert notifications.notify(user=provider, kind="job_succeeded", message="Your job finished.", link="/jobs/x")
    assert smtp_settings.messages == []  # the change does not wait for the mail server (issue #24)
    assert outbox.deliver_due() == 1
    [(_, recipients, message)] = smtp_settings.messages
    assert (recipients, message["Subject"]) == (["alice@example.com"], "GPT store: Your job finished.")
    assert _body(message) == "Your job finished.\r\n\r\nhttps://store.example/jobs/x\r\n"  # SMTP line ends

    smtp_settings.refuse = True
    assert notifications.notify(user=provider, kind="job_failed", message="Your job failed.")
    assert outbox.deliver_due() == 0
    assert len(smtp_settings.messages) == 1
    assert list(Notification.objects.filter(user=provider).values_list("kind", flat=True).order_by("pk")) == [
        "job_succeeded", "job_failed"]  # fmt: skip
    refused = OutboxEvent.objects.get(delivered_at__isnull=True)
    assert (refused.kind, refused.attempts, refused.failed_at) == ("notification.email", 1, None)
    assert refused.last_error.startswith("SMTPDataError: (554, b'5.7.1 refused by the test')")

    smtp_settings.refuse = False  # the server takes mail again: the retry, once due, delivers it
    assert outbox.deliver_due() == 0  # not due yet (backoff)
    assert outbox.deliver_due(now=timezone.now() + dt.timedelta(seconds=2)) == 1
    assert [message["Subject"] for _, _, message in smtp_settings.messages] == [
        "GPT store: Your job finished.", "GPT store: Your job failed."]  # fmt: skip
