"""Warnings the store sends on its own: a consumer whose wallet runs low while using it (once a day, by beat)."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import notifications
from accounts.models import NotificationKind
from core import outbox
from marketplace.models import Account, AccountKind, ConsumerUsageDaily
from marketplace.money import MICRO, short_credits

LOW_BALANCE_EVERY = dt.timedelta(days=1)


def warn_low_balances(*, now: dt.datetime | None = None) -> int:
    """Notify users who called a model today or yesterday and whose spendable balance is under LOW_BALANCE_CREDITS.
    Returns how many were told."""
    now = now or timezone.now()
    threshold = settings.LOW_BALANCE_CREDITS * MICRO
    active = ConsumerUsageDaily.objects.filter(day__gte=now.date() - dt.timedelta(days=1)).values("user_id")
    low = Account.objects.filter(kind=AccountKind.WALLET, user_id__in=active).select_related("user")
    told = 0
    for wallet in low:
        spendable = wallet.balance - wallet.held
        if spendable >= threshold or wallet.user is None:
            continue
        with transaction.atomic():
            sent = notifications.notify(
                user=wallet.user, kind=NotificationKind.LOW_BALANCE, link="/settings/wallet",
                once_per=LOW_BALANCE_EVERY,
                message=f"Your balance is {short_credits(spendable)} credits: calls stop when it runs out. Add credits.",
            )  # fmt: skip
            if sent:
                outbox.record("balance.low", user_id=wallet.user_id, spendable=spendable)
        told += sent
    return told
