"""Telling users what happened to their things: a Notification row (shown on their pages until read) and, when
email is configured (EMAIL_HOST), an email sent by a worker from the outbox (core/outbox.py), with retries.
Sending mail never undoes, fails or slows the change it reports."""

import datetime as dt

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import Notification, User
from core import outbox
from core.models import OutboxEvent

EMAIL_EVENT = "notification.email"
UNREAD_SHOWN = 20


def notify(*, user: User, kind: str, message: str, link: str = "", once_per: dt.timedelta | None = None) -> bool:
    """Record a notification for `user` and, when email is set up, an outbox event that a worker turns into an
    email (email_notification). With `once_per`, skip it when the same kind was sent within that time (e.g. low
    balance once a day). Returns whether it was sent. Mail is never sent inside the change it reports."""
    if once_per is not None:
        recent = Notification.objects.filter(user=user, kind=kind, created_at__gte=timezone.now() - once_per)
        if recent.exists():
            return False
    with transaction.atomic():
        notification = Notification.objects.create(user=user, kind=kind, message=message[:2000], link=link[:300])
        if settings.EMAIL_HOST and user.email:
            outbox.record(EMAIL_EVENT, notification_id=notification.pk)
    return True


@outbox.consumer(EMAIL_EVENT)
def email_notification(event: OutboxEvent) -> None:
    """Send a notification's email. A mail server that refuses or is away raises: the outbox tries again later."""
    notification = Notification.objects.select_related("user").filter(pk=event.payload["notification_id"]).first()
    if notification is None or not notification.user.email:  # the account was deleted meanwhile: nothing to send
        return
    link = notification.link
    url = f"{settings.SITE_URL.rstrip('/')}{link}" if link else settings.SITE_URL
    send_mail(subject=f"GPT store: {notification.message[:60]}", message=f"{notification.message}\n\n{url}\n",
              from_email=None, recipient_list=[notification.user.email])  # fmt: skip


def unread(user: User) -> list[Notification]:
    return list(Notification.objects.filter(user=user, read_at__isnull=True)[:UNREAD_SHOWN])


def mark_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
