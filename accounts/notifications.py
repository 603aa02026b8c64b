"""Telling users what happened to their things: a Notification row (shown on their pages until read) and, when
email is configured (EMAIL_HOST), an email. Sending mail never undoes or fails the change it reports."""

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from accounts.models import Notification, User

log = logging.getLogger(__name__)
UNREAD_SHOWN = 20


def notify(*, user: User, kind: str, message: str, link: str = "", once_per: dt.timedelta | None = None) -> bool:
    """Record a notification for `user` and email it when email is set up. With `once_per`, skip it when the
    same kind was sent within that time (e.g. low balance once a day). Returns whether it was sent."""
    if once_per is not None:
        recent = Notification.objects.filter(user=user, kind=kind, created_at__gte=timezone.now() - once_per)
        if recent.exists():
            return False
    Notification.objects.create(user=user, kind=kind, message=message[:2000], link=link[:300])
    if settings.EMAIL_HOST and user.email:
        try:
            url = f"{settings.SITE_URL.rstrip('/')}{link}" if link else settings.SITE_URL
            send_mail(subject=f"GPT store: {message[:60]}", message=f"{message}\n\n{url}\n",
                      from_email=None, recipient_list=[user.email])  # fmt: skip
        except Exception:  # whatever the mail server does is logged, never raised into the change it reports
            log.exception("could not email notification %s to user %s", kind, user.pk)
    return True


def unread(user: User) -> list[Notification]:
    return list(Notification.objects.filter(user=user, read_at__isnull=True)[:UNREAD_SHOWN])


def mark_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
