"""Letting a caller download a model's weights and charging for it. Who may, at what price, is offers.download_price:

    the owner                                  always, free
    no store listing                           anyone who can see the model (a public repository), free
    a listing that offers calls only           nobody else: 403 GatedRepo (huggingface_hub: GatedRepoError)
    a downloadable listing with a download     charged once per consumer and commit, on the first weight file the
    price on its price card                    consumer fetches of that commit (a ledger charge: consumer debit,
                                               provider credit, platform fee, idempotent by consumer and commit);
                                               the other shards, resumed and repeated downloads are then free

A download paid with an API key counts against that key's spend cap, as its /v1 calls do (429 past the cap,
nothing charged). Configs, tokenizers and the card are never withheld: only files that hold weights
(registry.policy.is_weights_file). The registry asks this module through registry.policy, never by import."""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import ApiKey, User
from core.exceptions import NotAuthenticated
from marketplace.exceptions import InsufficientFunds
from marketplace.models import AccountKind, TransactionKind
from marketplace.money import format_credits, split_fee
from marketplace.services import charge_sql, metering, offers, reviews
from marketplace.services.ledger import accounts_for, post_transaction, posted_transaction
from registry.exceptions import GatedRepo
from registry.models import Commit, Model


class StoreDownloads:
    """The registry's download policy (registry.policy), registered by MarketplaceConfig.ready."""

    def download_price(self, *, model: Model, user: User | None) -> int | None:
        return offers.download_price(model=model, user=user)

    def grant_weights(
        self, *, model: Model, commit: Commit, user: User | None, api_key: ApiKey | None, pay: bool
    ) -> None:
        grant_weights(model=model, commit=commit, user=user, api_key=api_key, pay=pay)


def grant_weights(*, model: Model, commit: Commit, user: User | None, api_key: ApiKey | None, pay: bool) -> None:
    """Let the caller fetch a weight file of `commit`, or raise GatedRepo (call only), NotAuthenticated (a price
    and no caller) or InsufficientFunds. With `pay` (a GET, not a HEAD), charge the price if not paid before."""
    price = offers.download_price(model=model, user=user)
    if price is None:
        raise GatedRepo(f"{model.repo_id} is offered for calls only (/v1): its weights cannot be downloaded")
    if price == 0:
        if pay:
            reviews.record_pull(model=model, user=user)
        return
    if user is None or not user.is_authenticated:
        raise NotAuthenticated(
            f"downloading the weights of {model.repo_id} costs {format_credits(price)} credits: send your token"
        )
    if pay:
        _charge_download(model=model, commit=commit, user=user, api_key=api_key, price=price)


def _charge_download(*, model: Model, commit: Commit, user: User, api_key: ApiKey | None, price: int) -> None:
    key = f"download:{user.pk}:{commit.sha}"
    if posted_transaction(key) is not None:
        return  # paid for this commit already
    spend = metering.hold_key_spend(api_key=api_key, amount=price)  # the key's spend cap counts downloads too
    paid = False
    try:
        paid = _post_download(key, model=model, commit=commit, user=user, key_id=api_key.pk if api_key else 0,
                              price=price)  # fmt: skip
    finally:
        if spend is not None and not paid:  # refused, failed, or a concurrent first download paid it
            spend.give_back_spend()


def _post_download(key: str, *, model: Model, commit: Commit, user: User, key_id: int, price: int) -> bool:
    """Post the charge (idempotency key `key`) and count it in the rollups. False if a concurrent first download
    (another shard) posted it first."""
    accounts = accounts_for([(user.pk, AccountKind.WALLET), (model.owner_id, AccountKind.EARNINGS),
                             (None, AccountKind.PLATFORM_FEES)])  # fmt: skip
    share, fee = split_fee(price, fee_percent=settings.PLATFORM_FEE_PERCENT)
    try:
        with transaction.atomic():
            post_transaction(
                kind=TransactionKind.CHARGE,
                entries=[
                    (accounts[(user.pk, AccountKind.WALLET)], -price),
                    (accounts[(model.owner_id, AccountKind.EARNINGS)], share),
                    (accounts[(None, AccountKind.PLATFORM_FEES)], fee),
                ],
                idempotency_key=key,
                memo=f"download {model.repo_id}@{commit.sha[:12]}",
            )
            charge_sql.add_to_rollups(
                day=dt.datetime.now(dt.UTC).date(), user_id=user.pk, key_id=key_id, payee_id=model.owner_id,
                model_label=model.repo_id, commit_sha=commit.sha, prompt_tokens=0, completion_tokens=0, cost=price,
                share=share, fee=fee,
            )  # fmt: skip
        return True
    except InsufficientFunds:
        raise InsufficientFunds(
            f"downloading the weights of {model.repo_id} costs {format_credits(price)} credits, more than your "
            "wallet holds: top up your credits"
        ) from None
    except IntegrityError:  # a concurrent first download (another shard) paid it
        if posted_transaction(key) is None:
            raise
        return False
