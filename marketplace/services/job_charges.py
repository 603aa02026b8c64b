"""Charging a job of any kind: hold its estimate on the wallet when it is created, charge what it really used when
it ends (a part on cancel or failure) and release the rest. The kind prices its units (jobs/kinds.py); training's
price is the store's, TRAINING_PRICE_PER_1M_TOKENS. What a job pays goes to the platform. The hold is a Reservation
keyed by the job's id, so the ledger audit counts it like a call's hold."""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import Conflict
from marketplace.exceptions import InsufficientQuota
from marketplace.models import AccountKind, TransactionKind
from marketplace.money import format_credits, token_cost
from marketplace.services import charge_sql
from marketplace.services.ledger import accounts_for, post_transaction, posted_transaction
from registry.models import Commit, Model


def training_cost(tokens: int) -> int:
    """Micro-credits for training `tokens` tokens (rounded up, like a call's cost)."""
    price = settings.TRAINING_PRICE_PER_1M_TOKENS
    return token_cost(prompt_tokens=tokens, completion_tokens=0, prompt_price=price, completion_price=0)


def hold_job(
    *,
    user: User,
    job_id: str,
    amount: int,
    units: int,
    unit_price: int,
    model: Model | None = None,
    commit: Commit | None = None,
    label: str = "",
) -> int:
    """Hold `amount` (the kind's price of `units`, at `unit_price` per 1M units) for the job, or raise InsufficientQuota
    with nothing held. Returns the amount. Must run inside the transaction that creates the job, so neither exists
    without the other."""
    if amount == 0:
        return 0
    now = timezone.now()
    if not charge_sql.hold_credits(user_id=user.pk, amount=amount):
        raise InsufficientQuota(
            f"You exceeded your current quota: this job may cost up to {format_credits(amount)} credits "
            f"({units} {label or 'units'}) and your wallet does not hold that much. Top up your credits."
        )
    values = {
        "request_id": job_id, "user_id": user.pk, "api_key_id": None, "model_id": model.pk if model else None,
        "model_label": model.repo_id if model else "scratch", "commit_sha": commit.sha if commit else "",
        "price_card_id": None, "payee_id": None, "prompt_price": unit_price, "completion_price": 0,
        "reserved_tokens": min(units, 2**31 - 1), "max_cost": amount, "spend_key": "", "created_at": now,
        "expires_at": now + dt.timedelta(seconds=settings.MAX_JOB_SECONDS * settings.MAX_JOB_ATTEMPTS + 3600),
    }  # fmt: skip
    try:
        charge_sql.insert_reservation(values)
    except IntegrityError:
        raise Conflict(f"{job_id} already holds credits") from None
    return amount


def settle_job(*, job_id: str, user_id: int, amount: int, key: str, memo: str) -> int:
    """Charge `amount` (what the job used, at most what was held) and release the hold, as the transaction `key`.
    Idempotent: a second call for the same job charges nothing. Returns the amount charged."""
    with transaction.atomic():
        claimed = charge_sql.take_reservation(request_id=job_id)
        if claimed is None:
            done = posted_transaction(key)
            return -sum(entry.amount for entry in done.entries.filter(amount__lt=0)) if done is not None else 0
        cost = min(claimed.max_cost, amount)
        if cost == 0:  # nothing used: no transaction, only the hold given back
            charge_sql.release_hold(user_id=user_id, amount=claimed.max_cost)
            return 0
        accounts = accounts_for([(user_id, AccountKind.WALLET), (None, AccountKind.PLATFORM_FEES)])
        wallet = accounts[(user_id, AccountKind.WALLET)]
        post_transaction(
            kind=TransactionKind.CHARGE,
            entries=[(wallet, -cost), (accounts[(None, AccountKind.PLATFORM_FEES)], cost)],
            idempotency_key=key,
            memo=memo,
            release_holds={wallet.pk: claimed.max_cost},
        )
    return cost
