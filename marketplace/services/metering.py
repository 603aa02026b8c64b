"""Charging a call: authorize before it runs, settle after it finishes, release if it never ran.

    authorize  scope, visibility, rate limits, spend cap (Redis, atomic) -> hold the maximum cost on the
               wallet (a conditional UPDATE in the database) -> Reservation
    settle     charge the real cost (consumer debit, provider credit, platform fee: one ledger transaction),
               release the hold, write the usage record and the daily rollups; idempotent by request id
    release    void the reservation: the hold and the Redis counters are given back; idempotent too

The owner of a model calls it free. A periodic task voids reservations that outlived RESERVATION_TTL."""

import dataclasses
import datetime as dt
import logging
import uuid

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from marketplace.exceptions import (
    Conflict,
    InsufficientQuota,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
)
from marketplace.models import (
    AccountKind,
    ApiKey,
    ConsumerUsageDaily,
    Listing,
    ProviderEarningsDaily,
    Reservation,
    ReservationStatus,
    TransactionKind,
    UsageRecord,
    UsageStatus,
    User,
)
from marketplace.money import format_credits, split_fee, token_cost
from marketplace.services import limits
from marketplace.services.ledger import accounts_for, post_transaction
from marketplace.services.listings import served_commit
from registry.exceptions import RevisionNotFound
from registry.models import Commit, Model, ValidationStatus

logger = logging.getLogger(__name__)


class ModelNotFound(NotFound):
    code = "model_not_found"
    error_type = "invalid_request_error"


@dataclasses.dataclass(frozen=True)
class Authorization:
    """A call that may go ahead: what to serve, at what price, and the rate-limit state for headers."""

    reservation: Reservation
    commit: Commit
    listing: Listing | None
    rate: limits.RateState

    @property
    def request_id(self) -> str:
        return self.reservation.request_id

    def headers(self) -> dict[str, str]:
        return {"x-request-id": self.request_id, **self.rate.headers()}


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def _commit_to_serve(*, user: User, model: Model, revision: str | None) -> tuple[Commit, Listing | None]:
    """Owners call any valid revision of their model; others only a published listing, at its revision
    unless they pin another valid commit of it."""
    listing = Listing.objects.published().select_related("price_card", "model").filter(model=model).first()
    is_owner = model.owner_id == user.pk
    if not is_owner and (listing is None or model.is_private):
        raise ModelNotFound(
            f"The model '{model.repo_id}' does not exist or you do not have access to it.", param="model"
        )
    if revision is None and listing is not None:
        return served_commit(listing=listing), listing
    from registry.services import resolve_revision

    try:
        commit = resolve_revision(model=model, revision=revision or "main")
    except RevisionNotFound:
        raise ModelNotFound(f"The model '{model.repo_id}' has no revision '{revision}'.", param="model") from None
    if commit.validation_status != ValidationStatus.VALID:
        raise InvalidInput(
            f"revision {commit.sha[:12]} of '{model.repo_id}' is {commit.validation_status}, not servable",
            param="model",
        )
    return commit, listing


def authorize(
    *,
    user: User,
    api_key: ApiKey | None,
    model: Model,
    revision: str | None = None,
    prompt_tokens: int,
    max_tokens: int,
    request_id: str | None = None,
) -> Authorization:
    """Admit a call and hold its maximum cost, or raise (PermissionDenied, ModelNotFound, RateLimited,
    InsufficientQuota, ServiceUnavailable) with nothing taken."""
    if api_key is not None and not api_key.has_scope("infer"):
        raise PermissionDenied("this API key lacks the 'infer' scope")
    if prompt_tokens < 0 or max_tokens < 0:
        raise InvalidInput("token counts cannot be negative", param="max_tokens")
    commit, listing = _commit_to_serve(user=user, model=model, revision=revision)
    is_owner = model.owner_id == user.pk
    card = None if is_owner or listing is None else listing.price_card
    prompt_price = card.prompt_price if card else 0
    completion_price = card.completion_price if card else 0
    max_cost = token_cost(
        prompt_tokens=prompt_tokens,
        completion_tokens=max_tokens,
        prompt_price=prompt_price,
        completion_price=completion_price,
    )
    now = timezone.now()
    key_id = api_key.pk if api_key else None
    subject = limits.subject(user_id=user.pk, key_id=key_id)
    rpm = api_key.effective_rpm if api_key else settings.DEFAULT_KEY_RPM
    tpm = api_key.effective_tpm if api_key else settings.DEFAULT_KEY_TPM
    spend_cap = api_key.spend_limit if api_key else None
    spend_key, period_start, ttl = ("", None, 0)
    if spend_cap is not None:
        spend_key, period_start, ttl = limits.spend_counter(key_id=key_id, period=api_key.spend_period, now=now)
    tokens = prompt_tokens + max_tokens
    try:
        decision = limits.take(
            subject=subject,
            rpm=rpm,
            tpm=tpm,
            tokens=tokens,
            spend_key=spend_key,
            spend_cap=spend_cap,
            cost=max_cost,
            ttl=ttl,
        )
        if decision.reason == "spend_missing":
            limits.seed_spend(spend_key=spend_key, spent=_spent_in_period(api_key, period_start, spend_key), ttl=ttl)
            decision = limits.take(
                subject=subject, rpm=rpm, tpm=tpm, tokens=tokens, spend_key=spend_key, spend_cap=spend_cap,
                cost=max_cost, ttl=ttl,
            )  # fmt: skip
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"rate limiter unavailable ({type(exc).__name__}); nothing was charged") from None
    if not decision.admitted:
        _refuse(decision, tokens=tokens, max_cost=max_cost, spend_cap=spend_cap)
    reserved_cost = max_cost if spend_cap is not None else 0
    try:
        reservation = _hold(
            user=user,
            api_key=api_key,
            model=model,
            commit=commit,
            card=card,
            payee=None if card is None or max_cost == 0 else model.owner,
            prompt_price=prompt_price,
            completion_price=completion_price,
            tokens=tokens,
            max_cost=max_cost,
            spend_key=spend_key if reserved_cost else "",
            request_id=request_id or new_request_id(),
            now=now,
        )
    except BaseException:
        _give_back_quietly(
            subject=subject,
            tokens=tokens,
            tpm=tpm,
            spend_key=spend_key,
            spend_delta=-reserved_cost,
            requests=1,
            rpm=rpm,
        )
        raise
    return Authorization(reservation=reservation, commit=commit, listing=listing, rate=decision.rate)


def _refuse(decision: limits.Decision, *, tokens: int, max_cost: int, spend_cap: int | None):
    rate_headers = decision.rate.headers()
    if decision.reason == "spend":
        raise InsufficientQuota(
            f"This key's spend limit of {format_credits(spend_cap)} credits would be exceeded by this request "
            f"(up to {format_credits(max_cost)} credits). Raise the limit or wait for the next period."
        )
    if decision.reason == "tokens_too_large":
        raise RateLimited(
            f"Request too large: it may use {tokens} tokens, over the key's limit of "
            f"{decision.rate.limit_tokens} tokens per minute. Lower max_tokens.",
            limit_type="tokens",
            headers={**rate_headers, "x-should-retry": "false"},
        )
    retry_after = limits.retry_after_seconds(decision)
    kind = "requests" if decision.reason == "requests" else "tokens"
    limit = decision.rate.limit_requests if kind == "requests" else decision.rate.limit_tokens
    raise RateLimited(
        f"Rate limit reached: {limit} {kind} per minute for this key. Retry after {retry_after} s.",
        limit_type=kind,
        headers={**rate_headers, "Retry-After": str(retry_after)},
    )


def _hold(*, user, api_key, model, commit, card, payee, prompt_price, completion_price, tokens, max_cost, spend_key,
          request_id, now) -> Reservation:  # fmt: skip
    with transaction.atomic():
        if max_cost > 0:
            held = accounts_for([(user.pk, AccountKind.WALLET)])[(user.pk, AccountKind.WALLET)]
            claimed = (
                type(held)
                .objects.filter(pk=held.pk, balance__gte=F("held") + max_cost)
                .update(held=F("held") + max_cost)
            )
            if claimed != 1:
                raise InsufficientQuota(
                    f"You exceeded your current quota: this request may cost up to {format_credits(max_cost)} "
                    "credits and your wallet does not hold that much. Top up your credits."
                )
        try:
            with transaction.atomic():
                return Reservation.objects.create(
                    request_id=request_id,
                    user=user,
                    api_key=api_key,
                    model=model,
                    model_label=model.repo_id,
                    commit_sha=commit.sha,
                    price_card=card,
                    payee=payee,
                    prompt_price=prompt_price,
                    completion_price=completion_price,
                    reserved_tokens=tokens,
                    max_cost=max_cost,
                    spend_key=spend_key,
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=settings.RESERVATION_TTL_SECONDS),
                )
        except IntegrityError:
            raise Conflict(f"request id {request_id} was already used", param="request_id") from None


def _spent_in_period(api_key: ApiKey, period_start: dt.datetime | None, spend_key: str) -> int:
    """Settled spend of a key in a period plus its open reservations there: what its spend counter holds."""
    from django.db.models import Sum

    settled = UsageRecord.objects.filter(api_key=api_key)
    if period_start is not None:
        settled = settled.filter(created_at__gte=period_start)
    open_holds = Reservation.objects.filter(api_key=api_key, status=ReservationStatus.OPEN, spend_key=spend_key)
    return (settled.aggregate(total=Sum("cost"))["total"] or 0) + (
        open_holds.aggregate(total=Sum("max_cost"))["total"] or 0
    )


def _give_back_quietly(**kwargs) -> None:
    try:
        limits.give_back(**kwargs)
    except redis.RedisError:
        logger.warning("could not give back rate-limit counters %s; they expire on their own", kwargs)


def _tpm_of(reservation: Reservation) -> int:
    key = reservation.api_key
    return key.effective_tpm if key is not None else settings.DEFAULT_KEY_TPM


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
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("api_key")
            .filter(request_id=request_id)
            .first()
        )
        if reservation is None:
            raise NotFound(f"no reservation for request {request_id}")
        if reservation.status == ReservationStatus.SETTLED:
            return UsageRecord.objects.get(request_id=request_id)
        if reservation.status == ReservationStatus.VOIDED:
            raise Conflict(f"the reservation of request {request_id} expired or was released")
        cost = min(
            reservation.max_cost,
            token_cost(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                prompt_price=reservation.prompt_price,
                completion_price=reservation.completion_price,
            ),
        )
        record = _record_usage(
            reservation,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            latency_ms=latency_ms,
            status=status,
        )
    spend_delta = cost - reservation.max_cost if reservation.spend_key else 0
    unused_tokens = max(0, reservation.reserved_tokens - prompt_tokens - completion_tokens)
    _give_back_quietly(
        subject=limits.subject(user_id=reservation.user_id, key_id=reservation.api_key_id),
        tokens=unused_tokens,
        tpm=_tpm_of(reservation),
        spend_key=reservation.spend_key,
        spend_delta=spend_delta,
    )
    return record


def _record_usage(
    reservation, *, prompt_tokens, completion_tokens, cost, latency_ms, status, outcome=ReservationStatus.SETTLED
) -> UsageRecord:
    """Inside settle's or release's transaction: ledger, hold, usage record, rollups, reservation state."""
    now = timezone.now()
    share, fee = split_fee(cost, fee_percent=settings.PLATFORM_FEE_PERCENT)
    posted = None
    if reservation.max_cost > 0:
        wanted = [(reservation.user_id, AccountKind.WALLET), (None, AccountKind.PLATFORM_FEES)]
        if reservation.payee_id:
            wanted.append((reservation.payee_id, AccountKind.EARNINGS))
        accounts = accounts_for(wanted)
        wallet = accounts[(reservation.user_id, AccountKind.WALLET)]
        entries = [(wallet, -cost), (accounts[(None, AccountKind.PLATFORM_FEES)], fee)]
        if reservation.payee_id:
            entries.append((accounts[(reservation.payee_id, AccountKind.EARNINGS)], share))
        if cost > 0:
            posted = post_transaction(
                kind=TransactionKind.CHARGE,
                entries=entries,
                idempotency_key=f"charge:{reservation.request_id}",
                memo=f"{reservation.model_label}@{reservation.commit_sha[:12]} {reservation.request_id}",
                release_holds={wallet.pk: reservation.max_cost},
            )
        else:
            type(wallet).objects.filter(pk=wallet.pk, held__gte=reservation.max_cost).update(
                held=F("held") - reservation.max_cost
            )
    record = UsageRecord.objects.create(
        request_id=reservation.request_id,
        user_id=reservation.user_id,
        api_key_id=reservation.api_key_id,
        model_id=reservation.model_id,
        model_label=reservation.model_label,
        commit_sha=reservation.commit_sha,
        price_card_id=reservation.price_card_id,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=cost,
        fee=fee,
        latency_ms=max(0, int(latency_ms)),
        status=status,
        transaction=posted,
        created_at=now,
    )
    reservation.status = outcome
    reservation.save(update_fields=["status"])
    day = now.date()
    _bump(
        ConsumerUsageDaily,
        {"user_id": reservation.user_id, "day": day, "key_id": reservation.api_key_id or 0,
         "model_label": reservation.model_label},
        {"requests": 1, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "cost": cost},
    )  # fmt: skip
    if reservation.payee_id:
        _bump(
            ProviderEarningsDaily,
            {"provider_id": reservation.payee_id, "day": day, "model_label": reservation.model_label,
             "commit_sha": reservation.commit_sha},
            {"requests": 1, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "gross": cost,
             "earnings": share, "fee": fee},
        )  # fmt: skip
    return record


def _bump(rollup, lookup: dict, increments: dict) -> None:
    """Add to a daily rollup row, creating it on the day's first call."""
    changes = {name: F(name) + value for name, value in increments.items()}
    if rollup.objects.filter(**lookup).update(**changes):
        return
    try:
        with transaction.atomic():
            rollup.objects.create(**lookup, **increments)
    except IntegrityError:  # a concurrent first call made it
        rollup.objects.filter(**lookup).update(**changes)


def release(*, request_id: str, status: str = UsageStatus.ERROR) -> UsageRecord | None:
    """A call that failed or was cancelled before producing anything: give back everything it held.
    Returns its (zero-cost) usage record, or the earlier outcome if it was already settled or released."""
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("api_key")
            .filter(request_id=request_id)
            .first()
        )
        if reservation is None:
            raise NotFound(f"no reservation for request {request_id}")
        if reservation.status != ReservationStatus.OPEN:
            return UsageRecord.objects.filter(request_id=request_id).first()
        record = _record_usage(
            reservation,
            prompt_tokens=0,
            completion_tokens=0,
            cost=0,
            latency_ms=0,
            status=status,
            outcome=ReservationStatus.VOIDED,
        )
    _give_back_quietly(
        subject=limits.subject(user_id=reservation.user_id, key_id=reservation.api_key_id),
        tokens=reservation.reserved_tokens,
        tpm=_tpm_of(reservation),
        spend_key=reservation.spend_key,
        spend_delta=-reservation.max_cost if reservation.spend_key else 0,
    )
    return record


def void_stale_reservations(*, now: dt.datetime | None = None) -> int:
    """Release reservations whose call never settled within RESERVATION_TTL_SECONDS. Returns how many."""
    now = now or timezone.now()
    stale = Reservation.objects.filter(status=ReservationStatus.OPEN, expires_at__lt=now)
    voided = 0
    for request_id in stale.values_list("request_id", flat=True)[:1000]:
        if release(request_id=request_id, status=UsageStatus.ERROR) is not None:
            voided += 1
    return voided
