"""The double-entry ledger: balanced transactions, top-ups, payments, refunds, payouts, audit.

Every function that moves credits posts exactly one LedgerTransaction inside a database transaction, updating
the cached balances with conditional UPDATEs in account-id order (so concurrent postings never deadlock), and
the `CHECK` constraints on Account back them up."""

import dataclasses
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from core.exceptions import Conflict, InvalidInput, NotFound
from marketplace.exceptions import InsufficientFunds
from marketplace.models import (
    Account,
    AccountKind,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentStatus,
    Payout,
    PayoutStatus,
    Reservation,
    TransactionKind,
)
from marketplace.money import format_credits, parse_credits

REVERSIBLE_KINDS = (TransactionKind.CHARGE, TransactionKind.TOPUP)


def accounts_for(keys: Iterable[tuple[int | None, str]]) -> dict[tuple[int | None, str], Account]:
    """Accounts by (user id or None, kind), created on first use. One query when they all exist."""
    wanted = set(keys)
    condition = Q(pk__in=[])
    for user_id, kind in wanted:
        condition |= Q(user_id=user_id, kind=kind) if user_id is not None else Q(user__isnull=True, kind=kind)
    found = {(account.user_id, account.kind): account for account in Account.objects.filter(condition)}
    for user_id, kind in wanted - found.keys():
        try:
            with transaction.atomic():
                found[(user_id, kind)] = Account.objects.create(user_id=user_id, kind=kind)
        except IntegrityError:  # made by a concurrent caller
            lookup = {"user_id": user_id} if user_id is not None else {"user__isnull": True}
            found[(user_id, kind)] = Account.objects.get(kind=kind, **lookup)
    return found


def account_for(user_id: int | None, kind: str) -> Account:
    return accounts_for([(user_id, kind)])[(user_id, kind)]


def post_transaction(
    *,
    kind: str,
    entries: list[tuple[Account, int]],
    idempotency_key: str | None = None,
    reverses: LedgerTransaction | None = None,
    memo: str = "",
    created_by: User | None = None,
    release_holds: dict[int, int] | None = None,
) -> LedgerTransaction:
    """Post one balanced transaction. Must run inside `transaction.atomic()`.

    A debit only succeeds if the account keeps at least its held credits (minus holds this posting releases);
    otherwise InsufficientFunds is raised and the caller's transaction rolls back."""
    entries = [(account, amount) for account, amount in entries if amount != 0]
    if sum(amount for _, amount in entries) != 0:
        raise ValueError(f"unbalanced transaction: {[(a.pk, n) for a, n in entries]}")
    release_holds = release_holds or {}
    changes: dict[int, int] = {}
    kinds: dict[int, str] = {}
    for account, amount in entries:
        changes[account.pk] = changes.get(account.pk, 0) + amount
        kinds[account.pk] = account.kind
    for account_id in release_holds:
        changes.setdefault(account_id, 0)
    source = reverses.kind if reverses is not None else kind  # a refund moves the totals of what it reverses
    for account_id in sorted(changes):
        amount, release = changes[account_id], release_holds.get(account_id, 0)
        is_wallet = kinds.get(account_id) == AccountKind.WALLET
        credited = amount if is_wallet and source == TransactionKind.TOPUP else 0
        spent = -amount if is_wallet and source == TransactionKind.CHARGE else 0
        rows = Account.objects.filter(pk=account_id)
        if kinds.get(account_id) != AccountKind.EXTERNAL:
            # new balance >= new held, i.e. balance + amount >= held - release
            rows = rows.filter(balance__gte=F("held") - release - amount, held__gte=release)
        updated = rows.update(
            balance=F("balance") + amount,
            held=F("held") - release,
            credited=F("credited") + credited,
            spent=F("spent") + spent,
        )
        if updated != 1:
            raise InsufficientFunds("not enough credits for this operation", param="amount")
    ledger_transaction = LedgerTransaction.objects.create(
        kind=kind, idempotency_key=idempotency_key, reverses=reverses, memo=memo[:200], created_by=created_by
    )
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(transaction=ledger_transaction, account=account, amount=amount) for account, amount in entries]
    )
    return ledger_transaction


def posted_transaction(idempotency_key: str) -> LedgerTransaction | None:
    """The transaction already posted under this idempotency key, if any."""
    return LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()


def check_top_up(amount: int) -> None:
    """A top-up's amount: positive and at most MAX_TOPUP_MICRO (checked before any row holds it: a bigint column
    refuses 10^24 with a DataError)."""
    if amount <= 0:
        raise InvalidInput("a top-up must be a positive amount of credits", param="amount")
    if amount > settings.MAX_TOPUP_MICRO:
        raise InvalidInput(f"a top-up may be at most {format_credits(settings.MAX_TOPUP_MICRO)}", param="amount")


def top_up(
    *, user: User, amount: int, idempotency_key: str | None = None, memo: str = "", created_by: User | None = None
) -> LedgerTransaction:
    """Add credits to a user's wallet from outside (an operator, or a confirmed payment)."""
    check_top_up(amount)
    if idempotency_key and (done := posted_transaction(idempotency_key)) is not None:
        return done
    accounts = accounts_for([(user.pk, AccountKind.WALLET), (None, AccountKind.EXTERNAL)])
    try:
        with transaction.atomic():
            return post_transaction(
                kind=TransactionKind.TOPUP,
                entries=[
                    (accounts[(None, AccountKind.EXTERNAL)], -amount),
                    (accounts[(user.pk, AccountKind.WALLET)], amount),
                ],
                idempotency_key=idempotency_key,
                memo=memo or "top-up",
                created_by=created_by,
            )
    except IntegrityError:
        if idempotency_key and (done := posted_transaction(idempotency_key)) is not None:
            return done  # a concurrent retry of the same top-up won
        raise


@dataclasses.dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    newly_credited: bool


def record_payment(*, provider: str, payment_id: str, user: User, amount: int) -> PaymentResult:
    """Credit a payment the provider confirmed. The same payment id credits the wallet once, however often
    it is submitted; a resubmission that disagrees with the first (other user or amount) is refused."""
    payment_id = (payment_id or "").strip()
    if not payment_id or len(payment_id) > 120:
        raise InvalidInput("payment id must be 1-120 characters", param="payment_id")
    check_top_up(amount)
    with transaction.atomic():
        payment, _created = Payment.objects.select_for_update().get_or_create(
            provider=provider, payment_id=payment_id, defaults={"user": user, "amount": amount}
        )
        if payment.user_id != user.pk or payment.amount != amount:
            raise Conflict(f"payment {payment_id} was already submitted with other details", param="payment_id")
        if payment.status == PaymentStatus.SUCCEEDED:
            return PaymentResult(payment=payment, newly_credited=False)
        payment.transaction = top_up(
            user=user, amount=amount, idempotency_key=f"payment:{provider}:{payment_id}", memo=f"payment {payment_id}"
        )
        payment.status = PaymentStatus.SUCCEEDED
        payment.completed_at = timezone.now()
        payment.save(update_fields=["transaction", "status", "completed_at"])
    return PaymentResult(payment=payment, newly_credited=True)


def reverse_transaction(*, transaction_id: int, by: User | None = None, memo: str = "") -> LedgerTransaction:
    """Refund a charge or a top-up with a transaction of opposite entries. Each can be reversed once, and only
    while the credits are still there (a provider who was paid out cannot be charged back below zero)."""
    with transaction.atomic():
        original = LedgerTransaction.objects.select_for_update().filter(pk=transaction_id).first()
        if original is None:
            raise NotFound(f"no transaction {transaction_id}")
        if original.kind not in REVERSIBLE_KINDS:
            raise InvalidInput(f"a {original.kind} transaction cannot be refunded", param="transaction")
        if LedgerTransaction.objects.filter(reverses=original).exists():
            raise Conflict(f"transaction {transaction_id} was already refunded")
        entries = [(entry.account, -entry.amount) for entry in original.entries.select_related("account")]
        return post_transaction(
            kind=TransactionKind.REFUND,
            entries=entries,
            reverses=original,
            idempotency_key=f"refund:{original.pk}",
            memo=memo or f"refund of {original.kind} #{original.pk}",
            created_by=by,
        )


def request_payout(*, user: User, amount: int) -> Payout:
    """Move earned credits into the payouts the operator owes. Refused above the earned balance."""
    if amount <= 0:
        raise InvalidInput("a payout must be a positive amount of credits", param="amount")
    accounts = accounts_for([(user.pk, AccountKind.EARNINGS), (None, AccountKind.PAYOUTS_PAYABLE)])
    earnings = accounts[(user.pk, AccountKind.EARNINGS)]
    with transaction.atomic():
        try:
            with transaction.atomic():
                posted = post_transaction(
                    kind=TransactionKind.PAYOUT_REQUEST,
                    entries=[(earnings, -amount), (accounts[(None, AccountKind.PAYOUTS_PAYABLE)], amount)],
                    memo=f"payout requested by {user.username}",
                    created_by=user,
                )
        except InsufficientFunds:
            earnings.refresh_from_db()
            raise InsufficientFunds(
                f"you can request at most {format_credits(earnings.balance)} credits", param="amount"
            ) from None
        return Payout.objects.create(user=user, amount=amount, request_transaction=posted)


def mark_payout_paid(*, payout_id: int, reference: str = "", by: User | None = None) -> Payout:
    """The operator sent the money: the payout leaves the books. Marking twice is a no-op."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
        if payout is None:
            raise NotFound(f"no payout {payout_id}")
        if payout.status == PayoutStatus.PAID:
            return payout
        accounts = accounts_for([(None, AccountKind.PAYOUTS_PAYABLE), (None, AccountKind.EXTERNAL)])
        payout.paid_transaction = post_transaction(
            kind=TransactionKind.PAYOUT_PAID,
            entries=[
                (accounts[(None, AccountKind.PAYOUTS_PAYABLE)], -payout.amount),
                (accounts[(None, AccountKind.EXTERNAL)], payout.amount),
            ],
            idempotency_key=f"payout:{payout.pk}",
            memo=f"payout {payout.pk} paid {reference}".strip(),
            created_by=by,
        )
        payout.status = PayoutStatus.PAID
        payout.reference = reference[:200]
        payout.paid_at = timezone.now()
        payout.save(update_fields=["paid_transaction", "status", "reference", "paid_at"])
    return payout


@dataclasses.dataclass(frozen=True)
class CreditSummary:
    balance: int
    held: int
    total_credits: int
    total_usage: int


def credit_summary(*, user: User) -> CreditSummary:
    """A consumer's wallet: balance, credits bought (net of refunded top-ups), credits spent (net of refunds).
    One row read: the totals are kept on the wallet with its balance."""
    wallet = account_for(user.pk, AccountKind.WALLET)
    return CreditSummary(
        balance=wallet.balance, held=wallet.held, total_credits=wallet.credited, total_usage=wallet.spent
    )


def _wallet_totals_from_entries() -> dict[int | None, tuple[int, int]]:
    """(credited, spent) of every wallet, summed from its entries: what the cached totals must equal."""
    topped = Q(transaction__kind=TransactionKind.TOPUP) | Q(
        transaction__kind=TransactionKind.REFUND, transaction__reverses__kind=TransactionKind.TOPUP
    )
    charged = Q(transaction__kind=TransactionKind.CHARGE) | Q(
        transaction__kind=TransactionKind.REFUND, transaction__reverses__kind=TransactionKind.CHARGE
    )
    rows = (
        LedgerEntry.objects.filter(account__kind=AccountKind.WALLET)
        .values("account_id")
        .annotate(
            credited=Coalesce(Sum("amount", filter=topped), 0), charged=Coalesce(Sum("amount", filter=charged), 0)
        )
        .order_by()
    )
    return {row["account_id"]: (row["credited"], -row["charged"]) for row in rows}


@dataclasses.dataclass
class AuditReport:
    transactions: int = 0
    entries: int = 0
    totals: dict[str, int] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_ledger() -> AuditReport:
    """Check the ledger's invariants: every transaction sums to zero, every cached balance (and a wallet's bought
    and spent totals) equals its entries, no balance is negative, and every wallet's held credits equal its open
    reservations."""
    report = AuditReport(transactions=LedgerTransaction.objects.count(), entries=LedgerEntry.objects.count())
    unbalanced = LedgerEntry.objects.values("transaction_id").annotate(total=Sum("amount")).exclude(total=0).order_by()
    for row in unbalanced:
        report.problems.append(f"transaction {row['transaction_id']} sums to {row['total']}, not 0")
    empty = LedgerTransaction.objects.filter(entries__isnull=True).values_list("pk", flat=True)
    report.problems.extend(f"transaction {pk} has no entries" for pk in empty)
    sums = dict(
        LedgerEntry.objects.values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total")
    )
    holds: dict[int | None, int] = dict(
        Reservation.objects.filter(max_cost__gt=0)
        .values("user_id")
        .annotate(total=Sum("max_cost"))
        .values_list("user_id", "total")
    )
    wallet_totals = _wallet_totals_from_entries()
    for account in Account.objects.order_by("pk"):
        expected = sums.get(account.pk, 0)
        report.totals[account.kind] = report.totals.get(account.kind, 0) + account.balance
        if account.balance != expected:
            report.problems.append(f"account {account.pk} ({account}) caches {account.balance}, entries say {expected}")
        if account.kind != AccountKind.EXTERNAL and account.balance < 0:
            report.problems.append(f"account {account.pk} ({account}) is negative: {account.balance}")
        if account.kind == AccountKind.WALLET and (account.credited, account.spent) != wallet_totals.get(
            account.pk, (0, 0)
        ):
            report.problems.append(
                f"account {account.pk} ({account}) caches bought/spent {account.credited}/{account.spent}, "
                f"entries say {'/'.join(map(str, wallet_totals.get(account.pk, (0, 0))))}"
            )
        if account.kind == AccountKind.WALLET and account.held != holds.get(account.user_id, 0):
            report.problems.append(
                f"account {account.pk} ({account}) holds {account.held}, open reservations say "
                f"{holds.get(account.user_id, 0)}"
            )
    grand_total = sum(report.totals.values())
    if grand_total != 0:
        report.problems.append(f"all balances sum to {grand_total}, not 0")
    return report


def parse_amount(raw, *, param: str = "amount") -> int:
    """Credits typed by a person or sent to the API, as micro-credits. Must be positive."""
    return parse_credits(raw, param=param, minimum=1)
