"""The ledger: top-ups, payments, refunds and payouts are balanced transactions; bad input changes nothing."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.exceptions import Conflict, InvalidInput
from marketplace.exceptions import InsufficientFunds
from marketplace.models import Account, AccountKind, LedgerEntry, LedgerTransaction, Payment, Payout, PayoutStatus
from marketplace.money import MICRO
from marketplace.services import ledger

pytestmark = pytest.mark.django_db


def balances():
    """Every non-empty account's (balance, held). Empty accounts are made on first use and hold nothing."""
    return {
        (account.user_id, account.kind): (account.balance, account.held)
        for account in Account.objects.all()
        if account.balance or account.held
    }


def test_a_top_up_moves_credits_from_outside_into_the_wallet(consumer):
    posted = ledger.top_up(user=consumer, amount=25 * MICRO)

    assert sorted(posted.entries.values_list("amount", flat=True)) == [-25 * MICRO, 25 * MICRO]
    assert balances() == {
        (consumer.pk, AccountKind.WALLET): (25 * MICRO, 0),
        (None, AccountKind.EXTERNAL): (-25 * MICRO, 0),
    }
    summary = ledger.credit_summary(user=consumer)
    assert (summary.balance, summary.total_credits, summary.total_usage) == (25 * MICRO, 25 * MICRO, 0)
    assert ledger.audit_ledger().ok


@pytest.mark.parametrize("amount", [0, -5 * MICRO, 10**18])
def test_zero_negative_or_huge_top_ups_are_refused_and_change_nothing(consumer, amount):
    with pytest.raises(InvalidInput) as caught:
        ledger.top_up(user=consumer, amount=amount)

    assert caught.value.param == "amount"
    assert LedgerTransaction.objects.count() == 0 and balances() == {}


@pytest.mark.parametrize("raw", ["0", "-3", "abc", "0.0000001"])
def test_topup_command_refuses_bad_amounts_with_a_message(consumer, raw):
    with pytest.raises(CommandError):
        call_command("topup", "bob", raw, stdout=io.StringIO())
    assert LedgerTransaction.objects.count() == 0


def test_topup_command_credits_the_wallet(consumer):
    out = io.StringIO()
    call_command("topup", "bob", "12.5", stdout=out)

    assert "bob now holds 12.500000 credits" in out.getvalue()
    assert ledger.credit_summary(user=consumer).balance == 12_500_000


def test_the_same_payment_id_credits_the_wallet_once(consumer):
    first = ledger.record_payment(provider="test", payment_id="pay_123", user=consumer, amount=5 * MICRO)
    again = ledger.record_payment(provider="test", payment_id="pay_123", user=consumer, amount=5 * MICRO)

    assert (first.newly_credited, again.newly_credited) == (True, False)
    assert first.payment.pk == again.payment.pk
    assert Payment.objects.count() == 1 and LedgerTransaction.objects.count() == 1
    assert ledger.credit_summary(user=consumer).balance == 5 * MICRO


def test_a_payment_id_resubmitted_with_other_details_is_refused(consumer, outsider):
    ledger.record_payment(provider="test", payment_id="pay_9", user=consumer, amount=5 * MICRO)

    with pytest.raises(Conflict):
        ledger.record_payment(provider="test", payment_id="pay_9", user=outsider, amount=50 * MICRO)
    with pytest.raises(Conflict):
        ledger.record_payment(provider="test", payment_id="pay_9", user=consumer, amount=6 * MICRO)
    assert LedgerTransaction.objects.count() == 1
    assert balances()[(consumer.pk, AccountKind.WALLET)] == (5 * MICRO, 0)
    assert (outsider.pk, AccountKind.WALLET) not in balances()


def test_refunding_a_top_up_reverses_it_once(consumer):
    posted = ledger.top_up(user=consumer, amount=3 * MICRO)

    refund = ledger.reverse_transaction(transaction_id=posted.pk)

    assert refund.reverses_id == posted.pk
    assert sorted(refund.entries.values_list("amount", flat=True)) == [-3 * MICRO, 3 * MICRO]
    summary = ledger.credit_summary(user=consumer)
    assert (summary.balance, summary.total_credits) == (0, 0)
    with pytest.raises(Conflict):
        ledger.reverse_transaction(transaction_id=posted.pk)
    assert LedgerTransaction.objects.count() == 2
    assert ledger.audit_ledger().ok


def test_payout_moves_earnings_to_payable_then_out(provider):
    earnings = ledger.account_for(provider.pk, AccountKind.EARNINGS)
    _credit_earnings(earnings, 4 * MICRO)

    payout = ledger.request_payout(user=provider, amount=3 * MICRO)
    assert balances()[(provider.pk, AccountKind.EARNINGS)] == (1 * MICRO, 0)
    assert balances()[(None, AccountKind.PAYOUTS_PAYABLE)] == (3 * MICRO, 0)

    paid = ledger.mark_payout_paid(payout_id=payout.pk, reference="SEPA 42")
    ledger.mark_payout_paid(payout_id=payout.pk, reference="twice")  # a no-op

    assert (paid.status, paid.reference) == (PayoutStatus.PAID, "SEPA 42")
    assert (None, AccountKind.PAYOUTS_PAYABLE) not in balances()  # empty again
    assert balances()[(None, AccountKind.EXTERNAL)] == (-1 * MICRO, 0)
    assert LedgerTransaction.objects.filter(kind="payout_paid").count() == 1
    assert ledger.audit_ledger().ok


def test_a_payout_above_the_earned_balance_is_refused_and_changes_nothing(provider):
    earnings = ledger.account_for(provider.pk, AccountKind.EARNINGS)
    _credit_earnings(earnings, 2 * MICRO)
    before = (balances(), LedgerTransaction.objects.count())

    with pytest.raises(InsufficientFunds, match=r"at most 2\.000000"):
        ledger.request_payout(user=provider, amount=2 * MICRO + 1)
    with pytest.raises(InvalidInput):
        ledger.request_payout(user=provider, amount=0)

    assert (balances(), LedgerTransaction.objects.count()) == before
    assert Payout.objects.count() == 0


def test_audit_finds_a_tampered_balance_and_the_command_fails(consumer):
    ledger.top_up(user=consumer, amount=MICRO)
    out = io.StringIO()
    call_command("audit_ledger", stdout=out)
    assert "ledger OK" in out.getvalue()
    assert "wallet                       1.000000" in out.getvalue()

    Account.objects.filter(kind=AccountKind.WALLET).update(balance=2 * MICRO)

    report = ledger.audit_ledger()
    assert report.problems == [
        f"account {ledger.account_for(consumer.pk, AccountKind.WALLET).pk} (consumer wallet of bob) caches 2000000, "
        "entries say 1000000",
        "all balances sum to 1000000, not 0",
    ]
    with pytest.raises(CommandError, match="2 problem"):
        call_command("audit_ledger", stdout=io.StringIO(), stderr=io.StringIO())


def test_ledger_entries_are_append_only(consumer):
    posted = ledger.top_up(user=consumer, amount=MICRO)
    entry = LedgerEntry.objects.filter(transaction=posted).first()

    entry.amount = 5
    with pytest.raises(ValueError, match="append-only"):
        entry.save()


def _credit_earnings(earnings, amount):
    """Earnings as a charge would leave them: credited from the platform's outside account."""
    from django.db import transaction

    external = ledger.account_for(None, AccountKind.EXTERNAL)
    with transaction.atomic():
        ledger.post_transaction(kind="adjustment", entries=[(external, -amount), (earnings, amount)])


def test_audit_checks_the_wallet_totals_too(consumer):
    ledger.top_up(user=consumer, amount=MICRO)
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.credited, wallet.spent) == (MICRO, 0)

    Account.objects.filter(pk=wallet.pk).update(spent=5)

    assert ledger.audit_ledger().problems == [
        f"account {wallet.pk} (consumer wallet of bob) caches bought/spent 1000000/5, entries say 1000000/0"
    ]
