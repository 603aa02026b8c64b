"""The Redis side of charging a key: requests and tokens per minute and the spend cap (one atomic script in
limits.py), what one authorization took and how to give it back, and the spend counter rebuilt from the database
when Redis lost it."""

import dataclasses
import datetime as dt
import logging

import redis
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.models import ApiKey, User
from core.exceptions import RateLimited, ServiceUnavailable
from marketplace.exceptions import InsufficientQuota
from marketplace.models import ConsumerUsageDaily, Reservation
from marketplace.money import format_credits
from marketplace.services import limits

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class KeyCounters:
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
    def of(cls, *, user: User, api_key: ApiKey | None, tokens: int, now: dt.datetime) -> "KeyCounters":
        key_id = api_key.pk if api_key else None
        spend_cap = api_key.spend_limit if api_key else None
        spend_key, period_start, ttl = ("", None, 0)
        if api_key is not None and spend_cap is not None:
            spend_key, period_start, ttl = limits.spend_counter(key_id=api_key.pk, period=api_key.spend_period,
                                                                now=now)  # fmt: skip
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

        def attempt() -> limits.Decision:
            return limits.take(subject=self.subject, rpm=self.rpm, tpm=self.tpm, tokens=self.tokens,
                               spend_key=self.spend_key, spend_cap=self.spend_cap, cost=spend, ttl=self.ttl)  # fmt: skip

        try:
            decision = attempt()
            if decision.reason == "spend_missing":
                self._seed()
                decision = attempt()
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"rate limiter unavailable ({type(exc).__name__}); nothing was charged") from None
        if not decision.admitted:
            _refuse(decision, tokens=self.tokens, max_cost=cost, spend_cap=self.spend_cap)
        self.spend_taken = spend
        return decision

    def take_more_spend(self, extra: int, *, max_cost: int, request_id: str | None) -> None:
        """The real maximum cost turned out higher than the estimate taken: take the difference too."""
        if self.spend_cap is None:
            return  # no cap, no spend counter to add to
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
        give_back_quietly(subject=self.subject, tokens=0, tpm=self.tpm, spend_key=self.spend_key,
                           spend_delta=-self.spend_taken)  # fmt: skip
        self.spend_taken = 0

    def give_back_all(self) -> None:
        give_back_quietly(subject=self.subject, tokens=self.tokens, tpm=self.tpm, spend_key=self.spend_key,
                           spend_delta=-self.spend_taken, requests=1, rpm=self.rpm)  # fmt: skip
        self.spend_taken = 0

    def _seed(self, excluding: str | None = None) -> None:
        if self.api_key is None:
            return  # a session's calls have no spend cap to rebuild
        spent = _spent_in_period(self.api_key, self.period_start, self.spend_key, excluding=excluding)
        limits.seed_spend(spend_key=self.spend_key, spent=spent, ttl=self.ttl)


def _spend_cap_refusal(spend_cap: int | None, max_cost: int) -> InsufficientQuota:
    return InsufficientQuota(
        f"This key's spend limit of {format_credits(spend_cap or 0)} credits would be exceeded by this request "
        f"(up to {format_credits(max_cost)} credits). Raise the limit or wait for the next period."
    )


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


def hold_key_spend(*, api_key: ApiKey | None, amount: int) -> "KeyCounters | None":
    """Count `amount` against the key's spend cap for a charge outside /v1 (a download), or raise
    InsufficientQuota (429) if the cap would be passed (ServiceUnavailable if Redis is down). Returns the counters
    (`give_back_spend()` if the charge then fails), or None when there is no key, no cap or nothing to pay."""
    if api_key is None or api_key.spend_limit is None or amount <= 0:
        return None
    counters = KeyCounters.of(user=api_key.user, api_key=api_key, tokens=0, now=timezone.now())
    counters.take_more_spend(amount, max_cost=amount, request_id=None)
    return counters


def give_back_quietly(**kwargs) -> None:
    try:
        limits.give_back(**kwargs)
    except redis.RedisError:
        logger.warning("could not give back rate-limit counters %s; they expire on their own", kwargs)


_UNKNOWN = object()


def give_back_after(
    *, user_id: int, api_key_id: int | None, reserved_tokens: int, max_cost: int, spend_key: str, used_tokens: int,
    cost: int, tpm_limit=_UNKNOWN,
) -> None:  # fmt: skip
    """After a settle or release: give the tokens the call reserved but did not use back to the key's token rate,
    and the difference between its hold and its cost back to the spend cap. `tpm_limit` (the key's, None for the
    default) is looked up when the caller does not have it."""
    unused_tokens = max(0, reserved_tokens - used_tokens)
    spend_delta = cost - max_cost if spend_key else 0
    if unused_tokens == 0 and spend_delta == 0:
        return  # the call used all it reserved: the counters are already right
    if tpm_limit is _UNKNOWN:
        key = ApiKey.objects.filter(pk=api_key_id).only("tpm_limit").first() if api_key_id is not None else None
        tpm_limit = key.tpm_limit if key is not None else None
    give_back_quietly(
        subject=limits.subject(user_id=user_id, key_id=api_key_id),
        tokens=unused_tokens,
        tpm=tpm_limit if tpm_limit is not None else settings.DEFAULT_KEY_TPM,
        spend_key=spend_key,
        spend_delta=spend_delta,
    )
