"""The hot path of charging in plain SQL: a handful of statements per call instead of ~20 ORM queries.

The ORM costs ~0.4 ms of Python per query on the machines we measured, which alone would blow the 2 ms budget
for authorize + settle (docs/benchmarks.md). These statements are portable between PostgreSQL and SQLite
(>= 3.35: RETURNING, upsert), used step by step; charge_pg.py does each step in one PostgreSQL statement. Row
locks are taken in one order everywhere (see charge_pg.SETTLE_PG) so concurrent charges never deadlock. The ledger
rules are the same as `ledger.post_transaction`: the audit checks both."""

import dataclasses
import datetime as dt

from django.conf import settings
from django.db import connection

from marketplace.models import (
    Account,
    ConsumerUsageDaily,
    LedgerEntry,
    LedgerTransaction,
    ProviderEarningsDaily,
    Reservation,
    UsageRecord,
)

ACCOUNT = Account._meta.db_table
RESERVATION = Reservation._meta.db_table
USAGE = UsageRecord._meta.db_table
TRANSACTION = LedgerTransaction._meta.db_table
ENTRY = LedgerEntry._meta.db_table
CONSUMER_DAILY = ConsumerUsageDaily._meta.db_table
PROVIDER_DAILY = ProviderEarningsDaily._meta.db_table


def compact(sql: str) -> str:
    """One line, single spaces: shorter than psycopg's 4 KiB limit for caching a statement's parsed form."""
    return " ".join(sql.split())


RESERVATION_COLUMNS = (
    "request_id", "user_id", "api_key_id", "model_id", "model_label", "commit_sha", "price_card_id", "payee_id",
    "prompt_price", "completion_price", "reserved_tokens", "max_cost", "spend_key", "created_at", "expires_at",
)  # fmt: skip


def hold_credits(*, user_id: int, amount: int) -> bool:
    """Add `amount` to the wallet's held credits if its spendable balance covers it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ACCOUNT} SET held = held + %s WHERE user_id = %s AND kind = 'wallet' AND balance - held >= %s",
            [amount, user_id, amount],
        )
        return cursor.rowcount == 1


def insert_reservation(values: dict) -> int:
    ops = connection.ops
    params = [values[name] for name in RESERVATION_COLUMNS]
    params[RESERVATION_COLUMNS.index("created_at")] = ops.adapt_datetimefield_value(values["created_at"])
    params[RESERVATION_COLUMNS.index("expires_at")] = ops.adapt_datetimefield_value(values["expires_at"])
    placeholders = ", ".join(["%s"] * len(params))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RESERVATION} ({', '.join(RESERVATION_COLUMNS)}) VALUES ({placeholders}) RETURNING id", params
        )
        return cursor.fetchone()[0]


@dataclasses.dataclass(frozen=True)
class Claimed:
    """An open reservation, taken (deleted) to be settled or released in the same transaction."""

    request_id: str
    user_id: int
    api_key_id: int | None
    model_id: int
    model_label: str
    commit_sha: str
    price_card_id: int | None
    payee_id: int | None
    prompt_price: int
    completion_price: int
    reserved_tokens: int
    max_cost: int
    spend_key: str


CLAIMED_COLUMNS = tuple(field.name for field in dataclasses.fields(Claimed) if field.name != "request_id")


def take_reservation(*, request_id: str) -> Claimed | None:
    """Delete an open reservation and return it; None if there is none (settled, released or unknown)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {RESERVATION} WHERE request_id = %s RETURNING {', '.join(CLAIMED_COLUMNS)}", [request_id]
        )
        row = cursor.fetchone()
    return Claimed(request_id, *row) if row else None


def move_charge(*, consumer_id: int, payee_id: int, cost: int, share: int, fee: int, release: int) -> dict[str, int]:
    """Debit the wallet (releasing its hold), credit the payee's earnings and the platform's fees, in one
    UPDATE. Returns {kind: account id} of the rows it changed; fewer than three means an account is missing
    or the wallet could not pay, and the caller must roll back."""
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    matching = (
        "(kind = 'wallet' AND user_id = %s) OR (kind = 'earnings' AND user_id = %s) "
        "OR (kind = 'platform_fees' AND user_id IS NULL)"
    )
    sql = f"""
        UPDATE {ACCOUNT} SET
            balance = balance + CASE kind WHEN 'wallet' THEN %s WHEN 'earnings' THEN %s ELSE %s END,
            held = held - CASE kind WHEN 'wallet' THEN %s ELSE 0 END,
            spent = spent + CASE kind WHEN 'wallet' THEN %s ELSE 0 END
        WHERE id IN (SELECT id FROM {ACCOUNT} WHERE {matching} ORDER BY id{lock})
          AND (kind <> 'wallet' OR balance - %s >= held - %s)
        RETURNING id, kind
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [-cost, share, fee, release, cost, consumer_id, payee_id, cost, release])
        return {kind: account_id for account_id, kind in cursor.fetchall()}


def release_hold(*, user_id: int, amount: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ACCOUNT} SET held = held - %s WHERE user_id = %s AND kind = 'wallet' AND held >= %s",
            [amount, user_id, amount],
        )


def insert_charge(*, request_id: str, memo: str, now: dt.datetime, entries: list[tuple[int, int]]) -> int:
    """The charge's ledger transaction and its entries; returns the transaction id."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TRANSACTION} (kind, idempotency_key, reverses_id, memo, created_at, created_by_id) "
            "VALUES ('charge', %s, NULL, %s, %s, NULL) RETURNING id",
            [f"charge:{request_id}", memo[:200], connection.ops.adapt_datetimefield_value(now)],
        )
        transaction_id = cursor.fetchone()[0]
        rows = [(transaction_id, account_id, amount) for account_id, amount in entries if amount != 0]
        cursor.execute(
            f"INSERT INTO {ENTRY} (transaction_id, account_id, amount) VALUES "
            + ", ".join(["(%s, %s, %s)"] * len(rows)),
            [value for row in rows for value in row],
        )
    return transaction_id


USAGE_COLUMNS = (
    "request_id", "user_id", "api_key_id", "model_id", "model_label", "commit_sha", "price_card_id",
    "prompt_tokens", "completion_tokens", "cost", "fee", "latency_ms", "status", "transaction_id", "created_at",
)  # fmt: skip


def insert_usage(values: dict) -> int:
    params = [values[name] for name in USAGE_COLUMNS]
    params[-1] = connection.ops.adapt_datetimefield_value(values["created_at"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {USAGE} ({', '.join(USAGE_COLUMNS)}) VALUES ({', '.join(['%s'] * len(params))}) RETURNING id",
            params,
        )
        return cursor.fetchone()[0]


def _upsert(table: str, keys: dict, increments: dict) -> None:
    columns = [*keys, *increments]
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in increments)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
            [*keys.values(), *increments.values()],
        )


def add_to_rollups(
    *, day: dt.date, user_id: int, key_id: int, payee_id: int | None, model_label: str, commit_sha: str,
    prompt_tokens: int, completion_tokens: int, cost: int, share: int, fee: int,
) -> None:  # fmt: skip
    """Count one call in the consumer's and the provider's daily rollups."""
    day_value = connection.ops.adapt_datefield_value(day)
    tokens = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    _upsert(
        CONSUMER_DAILY,
        {"user_id": user_id, "day": day_value, "key_id": key_id, "model_label": model_label},
        {"requests": 1, **tokens, "cost": cost},
    )
    if payee_id is not None:
        _upsert(
            PROVIDER_DAILY,
            {"provider_id": payee_id, "day": day_value, "model_label": model_label, "commit_sha": commit_sha},
            {"requests": 1, **tokens, "gross": cost, "earnings": share, "fee": fee},
        )


def cost_sql(prompt_tokens: str, completion_tokens: str) -> str:
    """money.token_cost in SQL, over the columns prompt_price and completion_price: micro-credits per 1M tokens,
    rounded up to a whole micro-credit (integer division of non-negative bigints). tests/marketplace/test_money.py
    checks it against the Python over random prices and token counts."""
    return f"(({prompt_tokens}) * prompt_price + ({completion_tokens}) * completion_price + 999999) / 1000000"


def fee_sql(cost: str) -> str:
    """money.split_fee's fee in SQL: the platform's percent of a cost, rounded down."""
    return f"({cost}) * %(fee_percent)s / 100"


def use_one_statement() -> bool:
    """Whether to charge with the one-statement PostgreSQL queries above (CHARGE_IN_ONE_STATEMENT; by default,
    on PostgreSQL) rather than the portable statements step by step."""
    choice = settings.CHARGE_IN_ONE_STATEMENT
    return connection.vendor == "postgresql" if choice is None else choice
