"""Charging a call: authorize before it runs, settle after it finishes, release if it never ran.

    authorize  scope, visibility, rate limits, spend cap (Redis, one atomic script) -> hold the maximum cost on
               the wallet (a conditional UPDATE in the database) -> Reservation
    settle     charge the real cost (consumer debit, provider credit, platform fee: one ledger transaction),
               release the hold, write the usage record and the daily rollups; idempotent by request id
    release    void the reservation: the hold and the Redis counters are given back; idempotent too

The owner of a model calls it free. A periodic task voids reservations that outlived RESERVATION_TTL_SECONDS.
The database work of the common path is plain SQL (charge_sql.py) to stay within its latency budget."""

import dataclasses
import datetime as dt
import logging
import time
import uuid

import psycopg
import redis
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Sum
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
    ListingStatus,
    Reservation,
    UsageRecord,
    UsageStatus,
    User,
)
from marketplace.money import format_credits, split_fee, token_cost
from marketplace.services import charge_sql, limits
from marketplace.services.ledger import accounts_for
from marketplace.services.listings import served_commit
from registry.exceptions import RevisionNotFound
from registry.models import Commit, Model, ValidationStatus

logger = logging.getLogger(__name__)


class ModelNotFound(NotFound):
    code = "model_not_found"


@dataclasses.dataclass(frozen=True)
class Authorization:
    """A call that may go ahead: what to serve, at what price, and the rate-limit state for headers."""

    reservation: Reservation
    commit_id: int
    listing_id: int | None
    rate: limits.RateState

    @property
    def request_id(self) -> str:
        return self.reservation.request_id

    @property
    def commit_sha(self) -> str:
        return self.reservation.commit_sha

    def headers(self) -> dict[str, str]:
        return {"x-request-id": self.request_id, **self.rate.headers()}


@dataclasses.dataclass(frozen=True)
class _Target:
    commit_id: int
    commit_sha: str
    listing_id: int | None
    price_card_id: int | None
    prompt_price: int
    completion_price: int


# A deadlock, a serialization failure or a dropped connection: the statement did nothing, and trying again is
# safe (settle and release are idempotent by request id). The one-statement path runs on psycopg's own cursor,
# whose errors Django does not wrap.
TRANSIENT_DB_ERRORS = (OperationalError, psycopg.OperationalError)
SETTLE_ATTEMPTS = 5


def _with_retries(work, *, what: str):
    """Run `work()`, again after a transient database error (up to SETTLE_ATTEMPTS times, backing off), so that a
    call that was served is charged (or released) rather than dropped. Inside a caller's transaction nothing is
    retried: the transaction is lost and the caller must start over."""
    for attempt in range(1, SETTLE_ATTEMPTS + 1):
        try:
            return work()
        except TRANSIENT_DB_ERRORS as exc:
            if attempt == SETTLE_ATTEMPTS or connection.in_atomic_block:
                raise
            logger.warning("%s failed (%s: %s); attempt %d of %d", what, type(exc).__name__, exc, attempt + 1,
                           SETTLE_ATTEMPTS)  # fmt: skip
            if not connection.is_usable():
                connection.close()  # the next attempt reconnects
            time.sleep(0.02 * 2**attempt)
    raise AssertionError("unreachable")


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def _target(*, user: User, model: Model, revision: str | None) -> _Target:
    """What to serve and at what price. Owners call any valid revision of their model, free; others only a
    published listing, at its revision unless they pin another valid commit of the model. (The common call on
    PostgreSQL does all of this inside AUTHORIZE_PG; this is the path that also says why a call is refused.)"""
    listing = Listing.objects.published().select_related("model", "price_card").filter(model_id=model.pk).first()
    is_owner = model.owner_id == user.pk
    if not is_owner and listing is None:
        raise ModelNotFound(
            f"The model '{model.repo_id}' does not exist or you do not have access to it.", param="model"
        )
    card = listing.price_card if listing is not None and not is_owner else None
    prices = (card.pk, card.prompt_price, card.completion_price) if card else (None, 0, 0)
    listing_id = listing.pk if listing is not None else None
    if revision is None and listing is not None:
        commit = served_commit(listing=listing)
    else:
        commit = _pinned_commit(model=model, revision=revision or "main")
    return _Target(commit.pk, commit.sha, listing_id, *prices)


def _pinned_commit(*, model: Model, revision: str) -> Commit:
    from registry.services import resolve_revision

    try:
        commit = resolve_revision(model=model, revision=revision)
    except RevisionNotFound:
        raise ModelNotFound(f"The model '{model.repo_id}' has no revision '{revision}'.", param="model") from None
    if commit.validation_status != ValidationStatus.VALID:
        raise InvalidInput(
            f"revision {commit.sha[:12]} of '{model.repo_id}' is {commit.validation_status}, not servable",
            param="model",
        )
    return commit


@dataclasses.dataclass
class _Counters:
    """The Redis side of one authorization: which counters, what was taken, and how to give it back."""

    api_key: ApiKey | None
    subject: str
    rpm: int
    tpm: int
    tokens: int
    spend_cap: int | None
    spend_key: str
    period_start: dt.datetime | None
    ttl: int
    spend_taken: int = 0

    @classmethod
    def of(cls, *, user: User, api_key: ApiKey | None, tokens: int, now: dt.datetime) -> "_Counters":
        key_id = api_key.pk if api_key else None
        spend_cap = api_key.spend_limit if api_key else None
        spend_key, period_start, ttl = ("", None, 0)
        if spend_cap is not None:
            spend_key, period_start, ttl = limits.spend_counter(key_id=key_id, period=api_key.spend_period, now=now)
        return cls(
            api_key=api_key,
            subject=limits.subject(user_id=user.pk, key_id=key_id),
            rpm=api_key.effective_rpm if api_key else settings.DEFAULT_KEY_RPM,
            tpm=api_key.effective_tpm if api_key else settings.DEFAULT_KEY_TPM,
            tokens=tokens,
            spend_cap=spend_cap,
            spend_key=spend_key,
            period_start=period_start,
            ttl=ttl,
        )

    def take(self, cost: int) -> limits.Decision:
        """Take a request, the tokens and (with a spend cap) `cost`, or raise the refusal. Nothing on refusal."""
        spend = cost if self.spend_cap is not None else 0
        arguments = {"subject": self.subject, "rpm": self.rpm, "tpm": self.tpm, "tokens": self.tokens,
                     "spend_key": self.spend_key, "spend_cap": self.spend_cap, "cost": spend, "ttl": self.ttl}  # fmt: skip
        try:
            decision = limits.take(**arguments)
            if decision.reason == "spend_missing":
                self._seed()
                decision = limits.take(**arguments)
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"rate limiter unavailable ({type(exc).__name__}); nothing was charged") from None
        if not decision.admitted:
            _refuse(decision, tokens=self.tokens, max_cost=cost, spend_cap=self.spend_cap)
        self.spend_taken = spend
        return decision

    def take_more_spend(self, extra: int, *, max_cost: int, request_id: str | None) -> None:
        """The real maximum cost turned out higher than the estimate taken: take the difference too."""
        try:
            outcome = limits.take_more_spend(spend_key=self.spend_key, spend_cap=self.spend_cap, extra=extra)
            if outcome == "spend_missing":  # lost since take(): rebuild without this call, then add all of it
                self._seed(excluding=request_id)
                outcome = limits.take_more_spend(spend_key=self.spend_key, spend_cap=self.spend_cap, extra=extra)
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"rate limiter unavailable ({type(exc).__name__}); nothing was charged") from None
        if outcome != "ok":
            raise _spend_cap_refusal(self.spend_cap, max_cost)
        self.spend_taken += extra

    def give_back_spend(self) -> None:
        """Give back the spend taken (not the request or the tokens)."""
        _give_back_quietly(subject=self.subject, tokens=0, tpm=self.tpm, spend_key=self.spend_key,
                           spend_delta=-self.spend_taken)  # fmt: skip
        self.spend_taken = 0

    def give_back_all(self) -> None:
        _give_back_quietly(subject=self.subject, tokens=self.tokens, tpm=self.tpm, spend_key=self.spend_key,
                           spend_delta=-self.spend_taken, requests=1, rpm=self.rpm)  # fmt: skip
        self.spend_taken = 0

    def _seed(self, excluding: str | None = None) -> None:
        spent = _spent_in_period(self.api_key, self.period_start, self.spend_key, excluding=excluding)
        limits.seed_spend(spend_key=self.spend_key, spent=spent, ttl=self.ttl)


# The prices last seen per (model, caller is owner): an estimate for the spend cap before the database says
# the real price. The database statement always charges the real one; a wrong estimate costs one more round trip.
_PRICE_HINTS: dict[tuple[int, bool], tuple[int, int]] = {}


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
    now = timezone.now()
    counters = _Counters.of(user=user, api_key=api_key, tokens=prompt_tokens + max_tokens, now=now)
    values = {
        "request_id": request_id or new_request_id(),
        "user_id": user.pk,
        "api_key_id": api_key.pk if api_key else None,
        "model_id": model.pk,
        "model_label": model.repo_id,
        "reserved_tokens": prompt_tokens + max_tokens,
        "created_at": now,
        "expires_at": now + dt.timedelta(seconds=settings.RESERVATION_TTL_SECONDS),
    }
    try:
        if revision is None and _one_statement():
            granted = _authorize_in_one_statement(user, model, counters, values, prompt_tokens, max_tokens)
            if granted is not None:
                return granted
        return _authorize_step_by_step(user, model, revision, counters, values, prompt_tokens, max_tokens)
    except TRANSIENT_DB_ERRORS as exc:  # nothing was held: the statement failed whole and the counters went back
        raise ServiceUnavailable(f"the database is unavailable ({type(exc).__name__}); nothing was charged") from None


def _authorize_in_one_statement(user, model, counters, values, prompt_tokens, max_tokens) -> Authorization | None:
    """The common call (no pinned revision) on PostgreSQL: Redis first with the price estimated, then one
    statement. None when the model is not servable to the caller: the step-by-step path then says why."""
    is_owner = model.owner_id == user.pk
    hint = _PRICE_HINTS.get((model.pk, is_owner), (0, 0))
    estimate = token_cost(prompt_tokens=prompt_tokens, completion_tokens=max_tokens, prompt_price=hint[0],
                          completion_price=hint[1])  # fmt: skip
    decision = counters.take(estimate)
    params = {**values, "prompt_tokens": prompt_tokens, "max_tokens": max_tokens, "spend_key": counters.spend_key}
    try:
        row = charge_sql.authorize_pg(params)
    except IntegrityError:
        counters.give_back_all()
        raise Conflict(f"request id {values['request_id']} was already used", param="request_id") from None
    except BaseException:
        counters.give_back_all()
        raise
    if row is None or row["reservation_id"] is None:
        counters.give_back_all()
        if row is not None and row["max_cost"] is not None:
            raise _short_of_credit(row["max_cost"])
        return None
    _PRICE_HINTS[(model.pk, is_owner)] = (row["prompt_price"], row["completion_price"])
    max_cost = row["max_cost"]
    if counters.spend_cap is not None and max_cost != counters.spend_taken:
        try:
            if max_cost > counters.spend_taken:
                counters.take_more_spend(
                    max_cost - counters.spend_taken, max_cost=max_cost, request_id=values["request_id"]
                )
            else:
                _give_back_quietly(subject=counters.subject, tokens=0, tpm=counters.tpm, spend_key=counters.spend_key,
                                   spend_delta=max_cost - counters.spend_taken)  # fmt: skip
                counters.spend_taken = max_cost
        except BaseException:
            charge_sql.cancel_reservation_pg(values["request_id"])
            counters.give_back_all()
            raise
    published = row["listing_status"] == ListingStatus.PUBLISHED and not row["model_is_private"]
    reservation = Reservation(
        **values,
        id=row["reservation_id"],
        commit_sha=row["commit_sha"],
        price_card_id=None if is_owner else row["price_card_id"],
        payee_id=model.owner_id if max_cost > 0 else None,
        prompt_price=row["prompt_price"],
        completion_price=row["completion_price"],
        max_cost=max_cost,
        spend_key=counters.spend_key if max_cost > 0 else "",
    )
    listing_id = row["listing_id"] if published else None
    return Authorization(reservation=reservation, commit_id=row["commit_id"], listing_id=listing_id, rate=decision.rate)


def _authorize_step_by_step(user, model, revision, counters, values, prompt_tokens, max_tokens) -> Authorization:
    """Pinned revisions, SQLite, and every refusal's precise reason: look up, take counters, hold."""
    target = _target(user=user, model=model, revision=revision)
    max_cost = token_cost(
        prompt_tokens=prompt_tokens,
        completion_tokens=max_tokens,
        prompt_price=target.prompt_price,
        completion_price=target.completion_price,
    )
    decision = counters.take(max_cost)
    values = {
        **values,
        "commit_sha": target.commit_sha,
        "price_card_id": target.price_card_id,
        "payee_id": model.owner_id if max_cost > 0 else None,
        "prompt_price": target.prompt_price,
        "completion_price": target.completion_price,
        "max_cost": max_cost,
        "spend_key": counters.spend_key if counters.spend_taken else "",
    }
    try:
        values["id"] = _hold(values)
    except BaseException:
        counters.give_back_all()
        raise
    return Authorization(
        reservation=Reservation(**values), commit_id=target.commit_id, listing_id=target.listing_id, rate=decision.rate
    )


def _short_of_credit(max_cost: int) -> InsufficientQuota:
    return InsufficientQuota(
        f"You exceeded your current quota: this request may cost up to {format_credits(max_cost)}"
        " credits and your wallet does not hold that much. Top up your credits."
    )


def _spend_cap_refusal(spend_cap: int, max_cost: int) -> InsufficientQuota:
    return InsufficientQuota(
        f"This key's spend limit of {format_credits(spend_cap)} credits would be exceeded by this request "
        f"(up to {format_credits(max_cost)} credits). Raise the limit or wait for the next period."
    )


def _hold(values: dict) -> int:
    """Hold the maximum cost on the wallet and record the reservation, both or neither."""
    try:
        if values["max_cost"] == 0:
            return charge_sql.insert_reservation(values)
        with transaction.atomic():
            if not charge_sql.hold_credits(user_id=values["user_id"], amount=values["max_cost"]):
                raise _short_of_credit(values["max_cost"])
            return charge_sql.insert_reservation(values)
    except IntegrityError:
        raise Conflict(f"request id {values['request_id']} was already used", param="request_id") from None


def _one_statement() -> bool:
    """Whether to charge with the one-statement PostgreSQL queries (CHARGE_IN_ONE_STATEMENT; auto by default)."""
    choice = settings.CHARGE_IN_ONE_STATEMENT
    return connection.vendor == "postgresql" if choice is None else choice


def _refuse(decision: limits.Decision, *, tokens: int, max_cost: int, spend_cap: int | None):
    rate_headers = decision.rate.headers()
    if decision.reason == "spend":
        raise _spend_cap_refusal(spend_cap, max_cost)
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


def _spent_in_period(
    api_key: ApiKey, period_start: dt.datetime | None, spend_key: str, excluding: str | None = None
) -> int:
    """What a key spent in a period (its daily rollups: settled calls and paid downloads; periods start at midnight
    UTC, as rollup days do) plus its open reservations there: what its spend counter holds."""
    settled = ConsumerUsageDaily.objects.filter(user_id=api_key.user_id, key_id=api_key.pk)
    if period_start is not None:
        settled = settled.filter(day__gte=period_start.date())
    open_holds = Reservation.objects.filter(api_key=api_key, spend_key=spend_key).exclude(request_id=excluding)
    return (settled.aggregate(total=Sum("cost"))["total"] or 0) + (
        open_holds.aggregate(total=Sum("max_cost"))["total"] or 0
    )


def hold_key_spend(*, api_key: ApiKey | None, amount: int) -> "_Counters | None":
    """Count `amount` against the key's spend cap for a charge outside /v1 (a download), or raise
    InsufficientQuota (429) if the cap would be passed (ServiceUnavailable if Redis is down). Returns the counters
    (`give_back_spend()` if the charge then fails), or None when there is no key, no cap or nothing to pay."""
    if api_key is None or api_key.spend_limit is None or amount <= 0:
        return None
    counters = _Counters.of(user=api_key.user, api_key=api_key, tokens=0, now=timezone.now())
    counters.take_more_spend(amount, max_cost=amount, request_id=None)
    return counters


def _give_back_quietly(**kwargs) -> None:
    try:
        limits.give_back(**kwargs)
    except redis.RedisError:
        logger.warning("could not give back rate-limit counters %s; they expire on their own", kwargs)


def _give_back_after(claimed: dict, *, used_tokens: int, cost: int) -> None:
    unused_tokens = max(0, claimed["reserved_tokens"] - used_tokens)
    spend_delta = cost - claimed["max_cost"] if claimed["spend_key"] else 0
    if unused_tokens == 0 and spend_delta == 0:
        return  # the call used all it reserved: the counters are already right
    if "tpm_limit" not in claimed:
        key = ApiKey.objects.filter(pk=claimed["api_key_id"]).only("tpm_limit").first()
        claimed["tpm_limit"] = key.tpm_limit if key is not None else None
    tpm = claimed["tpm_limit"] if claimed["tpm_limit"] is not None else settings.DEFAULT_KEY_TPM
    _give_back_quietly(
        subject=limits.subject(user_id=claimed["user_id"], key_id=claimed["api_key_id"]),
        tokens=unused_tokens,
        tpm=tpm,
        spend_key=claimed["spend_key"],
        spend_delta=spend_delta,
    )


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
    return _with_retries(
        lambda: _settle_once(request_id, prompt_tokens, completion_tokens, latency_ms, status),
        what=f"settle {request_id}",
    )


def _settle_once(request_id, prompt_tokens, completion_tokens, latency_ms, status) -> UsageRecord:
    if _one_statement():
        return _settle_in_one_statement(request_id, prompt_tokens, completion_tokens, latency_ms, status)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                claimed = charge_sql.take_reservation(request_id=request_id)
                if claimed is None:
                    return _earlier_outcome(request_id)
                claimed["request_id"] = request_id
                record = _charge(claimed, prompt_tokens, completion_tokens, latency_ms, status)
        except _AccountsMissing:
            accounts_for([(claimed["payee_id"], AccountKind.EARNINGS), (None, AccountKind.PLATFORM_FEES)])
            continue
        _give_back_after(claimed, used_tokens=prompt_tokens + completion_tokens, cost=record.cost)
        return record
    raise RuntimeError(f"could not create the accounts to settle {request_id}")


def _settle_in_one_statement(request_id, prompt_tokens, completion_tokens, latency_ms, status) -> UsageRecord:
    now = timezone.now()
    try:
        settled = charge_sql.settle_pg(
            request_id=request_id, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            latency_ms=max(0, int(latency_ms)), status=status, fee_percent=settings.PLATFORM_FEE_PERCENT, now=now,
        )  # fmt: skip
    except IntegrityError as exc:
        logger.error("settling %s broke a ledger constraint: %s", request_id, exc)
        raise Conflict(f"request {request_id} could not be charged: the wallet cannot cover it") from None
    if settled is None:
        return _earlier_outcome(request_id)
    _give_back_after(
        {**settled, "request_id": request_id}, used_tokens=prompt_tokens + completion_tokens, cost=settled["cost"]
    )
    return UsageRecord(
        pk=settled["id"], request_id=request_id, user_id=settled["user_id"], api_key_id=settled["api_key_id"],
        model_id=settled["model_id"], model_label=settled["model_label"], commit_sha=settled["commit_sha"],
        price_card_id=settled["price_card_id"], prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
        cost=settled["cost"], fee=settled["fee"], latency_ms=max(0, int(latency_ms)), status=status,
        transaction_id=settled["transaction_id"], created_at=now,
    )  # fmt: skip


def _earlier_outcome(request_id: str) -> UsageRecord:
    """A request with no open reservation: settled or released before (return that record), or unknown."""
    record = UsageRecord.objects.filter(request_id=request_id).first()
    if record is None:
        raise NotFound(f"no reservation for request {request_id}")
    if record.status == UsageStatus.EXPIRED:
        logger.warning("request %s settled after its reservation expired; it was not charged", request_id)
    return record


def _charge(claimed: dict, prompt_tokens: int, completion_tokens: int, latency_ms: int, status: str) -> UsageRecord:
    """Inside settle's transaction: ledger, hold, usage record, rollups."""
    cost = min(
        claimed["max_cost"],
        token_cost(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            prompt_price=claimed["prompt_price"],
            completion_price=claimed["completion_price"],
        ),
    )
    share, fee = split_fee(cost, fee_percent=settings.PLATFORM_FEE_PERCENT)
    now = timezone.now()
    transaction_id = None
    if cost > 0:
        moved = charge_sql.move_charge(
            consumer_id=claimed["user_id"], payee_id=claimed["payee_id"], cost=cost, share=share, fee=fee,
            release=claimed["max_cost"],
        )  # fmt: skip
        if len(moved) != 3:
            raise _AccountsMissing()  # rolls the claim back too; settle creates them and retries
        transaction_id = charge_sql.insert_charge(
            request_id=claimed["request_id"],
            memo=f"{claimed['model_label']}@{claimed['commit_sha'][:12]}",
            now=now,
            entries=[(moved["wallet"], -cost), (moved["earnings"], share), (moved["platform_fees"], fee)],
        )
    elif claimed["max_cost"] > 0:
        charge_sql.release_hold(user_id=claimed["user_id"], amount=claimed["max_cost"])
    return _write_usage(claimed, prompt_tokens, completion_tokens, cost, share, fee, latency_ms, status,
                        transaction_id, now)  # fmt: skip


def _write_usage(claimed, prompt_tokens, completion_tokens, cost, share, fee, latency_ms, status, transaction_id,
                 now) -> UsageRecord:  # fmt: skip
    values = {
        "request_id": claimed["request_id"],
        "user_id": claimed["user_id"],
        "api_key_id": claimed["api_key_id"],
        "model_id": claimed["model_id"],
        "model_label": claimed["model_label"],
        "commit_sha": claimed["commit_sha"],
        "price_card_id": claimed["price_card_id"],
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
        day=now.date(), user_id=claimed["user_id"], key_id=claimed["api_key_id"] or 0,
        payee_id=claimed["payee_id"] if cost > 0 else None, model_label=claimed["model_label"],
        commit_sha=claimed["commit_sha"], prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
        cost=cost, share=share, fee=fee,
    )  # fmt: skip
    return UsageRecord(**values)


def release(*, request_id: str, status: str = UsageStatus.ERROR) -> UsageRecord:
    """A call that failed or was cancelled before producing anything: give back everything it held.
    Returns its (zero-cost) usage record, or the earlier outcome if it was already settled or released."""
    record = _with_retries(lambda: _release_open(request_id, status), what=f"release {request_id}")
    return record if record is not None else _earlier_outcome(request_id)


def _release_open(request_id: str, status: str) -> UsageRecord | None:
    with transaction.atomic():
        claimed = charge_sql.take_reservation(request_id=request_id)
        if claimed is None:
            return None
        claimed["request_id"] = request_id
        if claimed["max_cost"] > 0:
            charge_sql.release_hold(user_id=claimed["user_id"], amount=claimed["max_cost"])
        record = _write_usage(claimed, 0, 0, 0, 0, 0, 0, status, None, timezone.now())
    _give_back_after(claimed, used_tokens=0, cost=0)
    return record


def void_stale_reservations(*, now: dt.datetime | None = None) -> int:
    """Release reservations whose call never settled within RESERVATION_TTL_SECONDS. Returns how many."""
    now = now or timezone.now()
    stale = Reservation.objects.filter(expires_at__lt=now).values_list("request_id", flat=True)[:1000]
    return sum(_release_open(request_id, UsageStatus.EXPIRED) is not None for request_id in stale)
