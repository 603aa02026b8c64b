"""Settle a call after it ran (charge what it really used, release the rest of the hold, write the usage record
and the rollups), or release it if it never ran. Both are idempotent by request id, and retried after transient
database errors."""

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import Conflict, InvalidInput, NotFound
from marketplace.models import AccountKind, Reservation, UsageRecord, UsageStatus
from marketplace.money import split_fee, token_cost
from marketplace.services import charge_pg, charge_sql
from marketplace.services.db_retry import with_retries
from marketplace.services.key_counters import give_back_after
from marketplace.services.ledger import accounts_for

logger = logging.getLogger(__name__)


class _AccountsMissing(Exception):
    """A first charge for this provider (or the platform): its account must be created first."""


def settle(
    *,
    request_id: str,
    prompt_tokens: int,
    completion_tokens: int,
    latency_ms: int = 0,
    status: str = UsageStatus.OK,
) -> UsageRecord:
    """Charge what a call really used (never more than was held) and release the rest. Settling the same
    request id again returns the first usage record and charges nothing."""
    if prompt_tokens < 0 or completion_tokens < 0:
        raise InvalidInput("token counts cannot be negative")
    return with_retries(
        lambda: _settle_once(request_id, prompt_tokens, completion_tokens, latency_ms, status),
        what=f"settle {request_id}",
    )


def _settle_once(request_id, prompt_tokens, completion_tokens, latency_ms, status) -> UsageRecord:
    if charge_sql.use_one_statement():
        return _settle_in_one_statement(request_id, prompt_tokens, completion_tokens, latency_ms, status)
    claimed: charge_sql.Claimed | None = None
    for _attempt in range(2):
        try:
            with transaction.atomic():
                claimed = charge_sql.take_reservation(request_id=request_id)
                if claimed is None:
                    return _earlier_outcome(request_id)
                record = _charge(claimed, prompt_tokens, completion_tokens, latency_ms, status)
        except _AccountsMissing:  # raised by _charge, so the reservation was claimed (and rolled back)
            assert claimed is not None
            accounts_for([(claimed.payee_id, AccountKind.EARNINGS), (None, AccountKind.PLATFORM_FEES)])
            continue
        _give_back(claimed, used_tokens=prompt_tokens + completion_tokens, cost=record.cost)
        return record
    raise RuntimeError(f"could not create the accounts to settle {request_id}")


def _settle_in_one_statement(request_id, prompt_tokens, completion_tokens, latency_ms, status) -> UsageRecord:
    now = timezone.now()
    try:
        settled = charge_pg.settle_pg(
            request_id=request_id, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            latency_ms=max(0, int(latency_ms)), status=status, fee_percent=settings.PLATFORM_FEE_PERCENT, now=now,
        )  # fmt: skip
    except IntegrityError as exc:
        logger.error("settling %s broke a ledger constraint: %s", request_id, exc)
        raise Conflict(f"request {request_id} could not be charged: the wallet cannot cover it") from None
    if settled is None:
        return _earlier_outcome(request_id)
    give_back_after(
        user_id=settled["user_id"], api_key_id=settled["api_key_id"], reserved_tokens=settled["reserved_tokens"],
        max_cost=settled["max_cost"], spend_key=settled["spend_key"], used_tokens=prompt_tokens + completion_tokens,
        cost=settled["cost"], tpm_limit=settled["tpm_limit"],
    )  # fmt: skip
    return UsageRecord(
        pk=settled["id"], request_id=request_id, user_id=settled["user_id"], api_key_id=settled["api_key_id"],
        model_id=settled["model_id"], model_label=settled["model_label"], commit_sha=settled["commit_sha"],
        price_card_id=settled["price_card_id"], prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
        cost=settled["cost"], fee=settled["fee"], latency_ms=max(0, int(latency_ms)), status=status,
        transaction_id=settled["transaction_id"], created_at=now,
    )  # fmt: skip


def _give_back(claimed: charge_sql.Claimed, *, used_tokens: int, cost: int) -> None:
    give_back_after(user_id=claimed.user_id, api_key_id=claimed.api_key_id, reserved_tokens=claimed.reserved_tokens,
                    max_cost=claimed.max_cost, spend_key=claimed.spend_key, used_tokens=used_tokens,
                    cost=cost)  # fmt: skip


def _earlier_outcome(request_id: str) -> UsageRecord:
    """A request with no open reservation: settled or released before (return that record), or unknown."""
    record = UsageRecord.objects.filter(request_id=request_id).first()
    if record is None:
        raise NotFound(f"no reservation for request {request_id}")
    if record.status == UsageStatus.EXPIRED:
        logger.warning("request %s settled after its reservation expired; it was not charged", request_id)
    return record


def _charge(
    claimed: charge_sql.Claimed, prompt_tokens: int, completion_tokens: int, latency_ms: int, status: str
) -> UsageRecord:
    """Inside settle's transaction: ledger, hold, usage record, rollups."""
    cost = min(
        claimed.max_cost,
        token_cost(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            prompt_price=claimed.prompt_price,
            completion_price=claimed.completion_price,
        ),
    )
    share, fee = split_fee(cost, fee_percent=settings.PLATFORM_FEE_PERCENT)
    now = timezone.now()
    transaction_id = None
    if cost > 0:
        assert claimed.payee_id is not None  # authorize names a payee whenever the call may cost anything
        moved = charge_sql.move_charge(
            consumer_id=claimed.user_id, payee_id=claimed.payee_id, cost=cost, share=share, fee=fee,
            release=claimed.max_cost,
        )  # fmt: skip
        if len(moved) != 3:
            raise _AccountsMissing()  # rolls the claim back too; settle creates them and retries
        transaction_id = charge_sql.insert_charge(
            request_id=claimed.request_id,
            memo=f"{claimed.model_label}@{claimed.commit_sha[:12]}",
            now=now,
            entries=[(moved["wallet"], -cost), (moved["earnings"], share), (moved["platform_fees"], fee)],
        )
    elif claimed.max_cost > 0:
        charge_sql.release_hold(user_id=claimed.user_id, amount=claimed.max_cost)
    return _write_usage(claimed, prompt_tokens, completion_tokens, cost, share, fee, latency_ms, status,
                        transaction_id, now)  # fmt: skip


def _write_usage(claimed, prompt_tokens, completion_tokens, cost, share, fee, latency_ms, status, transaction_id,
                 now) -> UsageRecord:  # fmt: skip
    values = {
        "request_id": claimed.request_id,
        "user_id": claimed.user_id,
        "api_key_id": claimed.api_key_id,
        "model_id": claimed.model_id,
        "model_label": claimed.model_label,
        "commit_sha": claimed.commit_sha,
        "price_card_id": claimed.price_card_id,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost": cost,
        "fee": fee,
        "latency_ms": max(0, int(latency_ms)),
        "status": status,
        "transaction_id": transaction_id,
        "created_at": now,
    }
    values["id"] = charge_sql.insert_usage(values)
    charge_sql.add_to_rollups(
        day=now.date(), user_id=claimed.user_id, key_id=claimed.api_key_id or 0,
        payee_id=claimed.payee_id if cost > 0 else None, model_label=claimed.model_label,
        commit_sha=claimed.commit_sha, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
        cost=cost, share=share, fee=fee,
    )  # fmt: skip
    return UsageRecord(**values)


def release(*, request_id: str, status: str = UsageStatus.ERROR) -> UsageRecord:
    """A call that failed or was cancelled before producing anything: give back everything it held.
    Returns its (zero-cost) usage record, or the earlier outcome if it was already settled or released."""
    record = with_retries(lambda: _release_open(request_id, status), what=f"release {request_id}")
    return record if record is not None else _earlier_outcome(request_id)


def _release_open(request_id: str, status: str) -> UsageRecord | None:
    with transaction.atomic():
        claimed = charge_sql.take_reservation(request_id=request_id)
        if claimed is None:
            return None
        if claimed.max_cost > 0:
            charge_sql.release_hold(user_id=claimed.user_id, amount=claimed.max_cost)
        record = _write_usage(claimed, 0, 0, 0, 0, 0, 0, status, None, timezone.now())
    _give_back(claimed, used_tokens=0, cost=0)
    return record


JOB_HOLD_MARK = "job-"  # every job id is f"{kind prefix}job-{hex}" (jobs/kinds.py); a call's is "req_{hex}"


def void_stale_reservations(*, now: dt.datetime | None = None) -> int:
    """Release reservations whose call never settled within RESERVATION_TTL_SECONDS. Returns how many."""
    now = now or timezone.now()
    stale = (
        Reservation.objects.filter(expires_at__lt=now)
        .exclude(request_id__contains=JOB_HOLD_MARK)  # a job's hold ends with the job (jobs/reaper.py)
        .values_list("request_id", flat=True)[:1000]
    )
    return sum(_release_open(request_id, UsageStatus.EXPIRED) is not None for request_id in stale)
