"""Operator screens: listing review and payouts go through the services; the ledger cannot be edited."""

import pytest
from django.test import Client

from accounts.models import ApiKey, User
from files import services as files
from marketplace.models import LedgerTransaction, Listing, Payout
from marketplace.money import MICRO
from marketplace.services import ledger
from tests.marketplace.conftest import submitted_listing
from tests.training.rows import fine_tuning_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    User.objects.create_superuser(username="root", email="root@example.com", password="operator-password-1")
    client = Client()
    client.login(username="root", password="operator-password-1")
    return client


@pytest.fixture
def pending(provider, provider_model, settings):
    settings.REVIEW_LISTINGS = True
    return submitted_listing(provider, provider_model, prompt_price="1", completion_price="1")


def test_operator_suspends_with_a_reason_then_approves(operator, pending):
    url = f"/admin/marketplace/listing/{pending.pk}/change/"

    operator.post(url, {"review_note": "", "decision": "suspend"})
    pending.refresh_from_db()
    assert pending.status == "pending_review"  # no reason, no suspension

    operator.post(url, {"review_note": "Card is empty", "decision": "suspend"})
    pending.refresh_from_db()
    assert (pending.status, pending.review_note, pending.reviewed_by.username) == ("suspended", "Card is empty", "root")

    approved = operator.post("/admin/marketplace/listing/", {"action": "approve", "_selected_action": [pending.pk]},
                             follow=True)  # fmt: skip
    pending.refresh_from_db()
    assert (pending.status, pending.review_note) == ("published", "")
    assert list(Listing.objects.published()) == [pending]
    said = [str(message) for message in approved.context["messages"]]  # there was none (issue #23)
    assert said[-1] == "1 listing approved and published; their providers are told."
    assert f"{pending} is suspended; its provider is told." in said


def test_operator_marks_a_payout_paid(operator, provider):
    external, earnings = ledger.account_for(None, "external"), ledger.account_for(provider.pk, "earnings")
    from django.db import transaction

    with transaction.atomic():
        ledger.post_transaction(kind="adjustment", entries=[(external, -MICRO), (earnings, MICRO)])
    payout = ledger.request_payout(user=provider, amount=MICRO)

    operator.post("/admin/marketplace/payout/", {"action": "mark_paid", "_selected_action": [payout.pk]})

    payout.refresh_from_db()
    assert payout.status == "paid"
    assert LedgerTransaction.objects.filter(kind="payout_paid").count() == 1
    assert ledger.audit_ledger().ok


def test_ledger_transactions_cannot_be_edited_or_deleted(operator, consumer):
    posted = ledger.top_up(user=consumer, amount=MICRO)

    assert operator.get(f"/admin/marketplace/ledgertransaction/{posted.pk}/change/").status_code == 200
    operator.post(f"/admin/marketplace/ledgertransaction/{posted.pk}/change/", {"memo": "edited"})
    operator.post(f"/admin/marketplace/ledgertransaction/{posted.pk}/delete/", {"post": "yes"})

    posted.refresh_from_db()
    assert posted.memo == "top-up" and LedgerTransaction.objects.count() == 1
    assert Payout.objects.count() == 0


def test_operator_revokes_keys_and_lists_them_by_search(operator, consumer, make_key):
    make_key(consumer, scopes=("infer",))
    key = ApiKey.objects.get()
    listed = operator.get("/admin/accounts/apikey/?q=bob")
    assert listed.status_code == 200 and key.prefix in listed.content.decode()

    operator.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key.prefix in operator.get("/admin/accounts/apikey/?revoked_at__isempty=0").content.decode()


def test_operator_sees_and_cancels_training_jobs(operator, provider, served_commit):
    data = files.create_file(user=provider, filename="d.jsonl", purpose="fine-tune", data=b'{"text": "a"}\n' * 10)
    job = fine_tuning_job(owner=provider, commit=served_commit, base_label="alice/tiny-gpt", data=data, seed=1, estimated_tokens=10,
                                       method=None)  # fmt: skip
    listed = operator.get("/admin/jobs/job/?status__exact=queued&q=alice")
    assert listed.status_code == 200 and job.public_id in listed.content.decode()
    assert operator.get(f"/admin/files/file/?q={data.public_id}").status_code == 200

    operator.post("/admin/jobs/job/", {"action": "cancel", "_selected_action": [job.pk]})

    job.refresh_from_db()
    assert job.status == "cancelled"
