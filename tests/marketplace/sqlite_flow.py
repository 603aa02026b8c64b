"""Run on a fresh SQLite database (the embedded default): publish, top up, authorize, settle, release, refund,
payout, audit. Started by test_sqlite.py in its own process; prints a JSON summary on its last line."""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from accounts import services as accounts
    from accounts.models import ApiKey
    from marketplace.models import AccountKind
    from marketplace.money import MICRO
    from marketplace.services import catalogue, ledger, limits, listings, metering
    from registry import services as registry
    from registry.models import Commit, Ref, RefKind, ValidationStatus
    from tests.conftest import record_evaluation

    call_command("migrate", verbosity=0)
    limits.client().flushdb()
    provider = accounts.create_user(username="alice", password="correct-horse-battery-staple")
    consumer = accounts.create_user(username="bob", password="correct-horse-battery-staple")
    model = registry.create_model(owner=provider, name="tiny-gpt")
    commit = Commit.objects.create(model=model, sha="c" * 40, message="w", author=provider,
                                   validation_status=ValidationStatus.VALID, validated_at=timezone.now())  # fmt: skip
    Ref.objects.create(model=model, kind=RefKind.BRANCH, name="main", commit=commit)
    record_evaluation(commit)  # the gate's precondition, as every listed commit has one
    listing = listings.publish_now(model=model, prompt_price="2", completion_price="6")
    ledger.top_up(user=consumer, amount=MICRO)
    api_key, secret = accounts.create_api_key(user=consumer, name="k", scopes=["infer"])
    ApiKey.objects.filter(pk=api_key.pk).update(spend_limit=MICRO, spend_period="day")
    api_key = accounts.authenticate_key(raw_key=secret)  # the raw-SQL lookup, with SQLite's converters
    stored = ApiKey.objects.select_related("user").get(pk=api_key.pk)
    key_lookup_ok = all(
        getattr(found, field.attname) == getattr(orm, field.attname)
        for found, orm in ((api_key, stored), (api_key.user, stored.user))
        for field in type(orm)._meta.concrete_fields
    ) and (api_key.scopes, api_key.spend_limit) == (["infer"], MICRO)

    first = metering.authorize(user=consumer, api_key=api_key, model=model, prompt_tokens=1000, max_tokens=500)
    charged = metering.settle(request_id=first.request_id, prompt_tokens=1000, completion_tokens=100)
    again = metering.settle(request_id=first.request_id, prompt_tokens=1000, completion_tokens=100)
    second = metering.authorize(user=consumer, api_key=api_key, model=model, prompt_tokens=10, max_tokens=10)
    released = metering.release(request_id=second.request_id)
    ledger.reverse_transaction(transaction_id=charged.transaction_id)
    third = metering.authorize(user=consumer, api_key=api_key, model=model, prompt_tokens=1000, max_tokens=1000)
    metering.settle(request_id=third.request_id, prompt_tokens=1000, completion_tokens=1000)
    ledger.request_payout(user=provider, amount=1000)
    report = ledger.audit_ledger()

    def found(**query) -> list[str]:
        return [hit.model.repo_id for hit in catalogue.listings(catalogue.parse_query(query))]

    print(json.dumps({
        "vendor": django.db.connection.vendor, "listing": listing.status, "cost": charged.cost, "fee": charged.fee,
        "same_record": again.pk == charged.pk, "released_cost": released.cost,
        "wallet": ledger.account_for(consumer.pk, AccountKind.WALLET).balance,
        "earnings": ledger.account_for(provider.pk, AccountKind.EARNINGS).balance,
        "audit_ok": report.ok, "problems": report.problems, "key_lookup_ok": key_lookup_ok,
        "search": [found(q="TINY gpt", sort="cheapest"), found(q="tiny absent"), found(q="alice", max_price="6")],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
