"""The double-entry ledger. Every movement of credits is one LedgerTransaction whose entries sum to zero.

Entries are append-only; each Account caches its balance, updated in the same database transaction as its
entries. `manage.py audit_ledger` checks both invariants."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AccountKind(models.TextChoices):
    WALLET = "wallet", "consumer wallet"
    EARNINGS = "earnings", "provider earnings"
    PLATFORM_FEES = "platform_fees", "platform fees"
    PAYOUTS_PAYABLE = "payouts_payable", "payouts owed"
    EXTERNAL = "external", "outside world (payments in, payouts out)"


class Account(models.Model):
    """A balance in micro-credits. Users own a wallet and an earnings account; the platform owns the rest.

    `held` is the part of a wallet reserved by calls in flight: spendable = balance - held. Only the external
    account may go negative (it mirrors all the money that came in from outside)."""

    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    balance = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    # Running totals of a wallet, kept with its balance so the credits API never sums the whole history.
    credited = models.BigIntegerField(default=0, db_default=0, help_text="Credits bought, net of refunded top-ups.")
    spent = models.BigIntegerField(default=0, db_default=0, help_text="Credits spent on calls, net of refunds.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "user"], name="account_unique_user_kind"),
            models.UniqueConstraint(fields=["kind"], condition=Q(user__isnull=True), name="account_unique_system_kind"),
            models.CheckConstraint(
                condition=Q(kind=AccountKind.EXTERNAL) | Q(balance__gte=0), name="account_balance_not_negative"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="account_held_not_negative"),
            models.CheckConstraint(
                condition=Q(kind=AccountKind.EXTERNAL) | Q(balance__gte=models.F("held")),
                name="account_held_within_balance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.user}" if self.user_id else self.get_kind_display()

    @property
    def available(self) -> int:
        return self.balance - self.held


class TransactionKind(models.TextChoices):
    TOPUP = "topup", "top-up"
    CHARGE = "charge"
    REFUND = "refund"
    PAYOUT_REQUEST = "payout_request", "payout requested"
    PAYOUT_PAID = "payout_paid", "payout paid"
    ADJUSTMENT = "adjustment"


class LedgerTransaction(models.Model):
    """One balanced movement of credits. `idempotency_key` makes a retried operation a no-op."""

    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        # a constraint, not unique=True: PostgreSQL then gets no second (pattern) index to update on every charge
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="ledger_transaction_unique_key")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class LedgerEntry(models.Model):
    """One side of a transaction: a signed amount on one account. Never updated or deleted."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero")]

    def __str__(self) -> str:
        return f"{self.amount:+d} on {self.account_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("ledger entries are append-only")
        super().save(*args, **kwargs)


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Payment(models.Model):
    """Money received through a payment provider. One payment id credits the wallet at most once."""

    provider = models.CharField(max_length=32)
    payment_id = models.CharField(max_length=120)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    amount = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    transaction = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="payment"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "payment_id"], name="payment_unique_provider_id"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.payment_id}"


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested"
    PAID = "paid"


class Payout(models.Model):
    """A provider's request to be paid earned credits, and the operator's record of paying it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    amount = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED)
    reference = models.CharField(max_length=200, blank=True, help_text="The operator's transfer reference.")
    request_transaction = models.OneToOneField(LedgerTransaction, on_delete=models.PROTECT, related_name="+")
    paid_transaction = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive")]

    def __str__(self) -> str:
        return f"payout {self.pk} to {self.user}"
