"""Authorize a call before it runs: scope, visibility, rate limits and the spend cap (Redis), then hold the
maximum cost on the wallet and record the reservation (one statement on PostgreSQL). Every refusal takes nothing."""

import dataclasses
import datetime as dt
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from core.exceptions import Conflict, InvalidInput, PermissionDenied, ServiceUnavailable
from marketplace.exceptions import InsufficientQuota
from marketplace.models import ListingStatus, Reservation
from marketplace.money import format_credits, token_cost
from marketplace.services import charge_pg, charge_sql, limits
from marketplace.services.db_retry import TRANSIENT_DB_ERRORS
from marketplace.services.key_counters import KeyCounters, give_back_quietly
from marketplace.services.offers import resolve_offer
from registry.models import Model


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


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


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
    counters = KeyCounters.of(user=user, api_key=api_key, tokens=prompt_tokens + max_tokens, now=now)
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
        if charge_sql.use_one_statement():
            granted = _authorize_in_one_statement(user, model, revision, counters, values, prompt_tokens, max_tokens)
            if granted is not None:
                return granted
        return _authorize_step_by_step(user, model, revision, counters, values, prompt_tokens, max_tokens)
    except TRANSIENT_DB_ERRORS as exc:  # nothing was held: the statement failed whole and the counters went back
        raise ServiceUnavailable(f"the database is unavailable ({type(exc).__name__}); nothing was charged") from None


def _authorize_in_one_statement(user, model, revision, counters, values, prompt_tokens, max_tokens):
    """A call on PostgreSQL: Redis first with the price estimated, then one statement (AUTHORIZE_PG, the SQL copy
    of offers.resolve_offer). None when the model is not servable to the caller: the step-by-step path says why."""
    is_owner = model.owner_id == user.pk
    hint = _PRICE_HINTS.get((model.pk, is_owner), (0, 0))
    estimate = token_cost(prompt_tokens=prompt_tokens, completion_tokens=max_tokens, prompt_price=hint[0],
                          completion_price=hint[1])  # fmt: skip
    decision = counters.take(estimate)
    params = {**values, "prompt_tokens": prompt_tokens, "max_tokens": max_tokens, "spend_key": counters.spend_key,
              "revision": revision}  # fmt: skip
    try:
        row = charge_pg.authorize_pg(params)
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
                give_back_quietly(subject=counters.subject, tokens=0, tpm=counters.tpm, spend_key=counters.spend_key,
                                   spend_delta=max_cost - counters.spend_taken)  # fmt: skip
                counters.spend_taken = max_cost
        except BaseException:
            charge_pg.cancel_reservation_pg(values["request_id"])
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
    """SQLite, and every refusal's precise reason: look up (offers.resolve_offer), take counters, hold."""
    offer = resolve_offer(user=user, model=model, revision=revision)
    max_cost = token_cost(
        prompt_tokens=prompt_tokens,
        completion_tokens=max_tokens,
        prompt_price=offer.prompt_price,
        completion_price=offer.completion_price,
    )
    decision = counters.take(max_cost)
    values = {
        **values,
        "commit_sha": offer.commit.sha,
        "price_card_id": offer.price_card.pk if offer.price_card is not None else None,
        "payee_id": model.owner_id if max_cost > 0 else None,
        "prompt_price": offer.prompt_price,
        "completion_price": offer.completion_price,
        "max_cost": max_cost,
        "spend_key": counters.spend_key if counters.spend_taken else "",
    }
    try:
        values["id"] = _hold(values)
    except BaseException:
        counters.give_back_all()
        raise
    listing_id = offer.listing.pk if offer.listing is not None else None
    return Authorization(reservation=Reservation(**values), commit_id=offer.commit.pk, listing_id=listing_id,
                         rate=decision.rate)  # fmt: skip


def _short_of_credit(max_cost: int) -> InsufficientQuota:
    return InsufficientQuota(
        f"You exceeded your current quota: this request may cost up to {format_credits(max_cost)}"
        " credits and your wallet does not hold that much. Top up your credits."
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
