"""The charging statements of PostgreSQL: authorize, settle and cancel, each in one statement (data-modifying
CTEs), prepared once per connection. charge_sql.py holds the portable statements and what both halves share
(the tables, and cost and fee in SQL)."""

import datetime as dt

import psycopg
from django.conf import settings
from django.db import connection

from accounts.models import ApiKey
from marketplace.models import Listing, PriceCard
from marketplace.services.charge_sql import (
    ACCOUNT,
    CONSUMER_DAILY,
    ENTRY,
    PROVIDER_DAILY,
    RESERVATION,
    RESERVATION_COLUMNS,
    TRANSACTION,
    USAGE,
    USAGE_COLUMNS,
    compact,
    cost_sql,
    fee_sql,
)
from marketplace.services.offers import BRANCH_WALK_LIMIT, DEFAULT_REVISION
from registry.models import Commit, Model, Ref

# PostgreSQL: the same work in one statement each (data-modifying CTEs), so a call costs two round trips to
# the database instead of fourteen. Each statement is atomic on its own: no BEGIN/COMMIT round trips.
# The settle statement needs no condition on the wallet: the hold already admitted the cost (cost <= held),
# and if the books were damaged the CHECK (balance >= held) or the NOT NULL account of an entry aborts the
# whole statement, so nothing is ever half-written.


def _execute_prepared(sql: str, params: dict, *, fetch: bool = True) -> tuple | None:
    """Run one statement on Django's connection (inside its transaction, if any) through a server-binding psycopg
    cursor, prepared on first use so later calls skip the planner. Django's own cursors bind on the client."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=settings.CHARGE_PREPARED_STATEMENTS or None)
        return cursor.fetchone() if fetch else None


# Every charging path takes its row locks in one order, so concurrent calls wait for each other instead of
# deadlocking: the accounts (wallet, earnings, platform fees) in id order, then the consumer's daily rollup, then
# the provider's. post_transaction and move_charge lock accounts in id order and add_to_rollups writes the consumer
# row first; authorize and release touch only the wallet (and release then the consumer's rollup). In one statement
# the order of data-modifying CTEs is PostgreSQL's to choose (it ran the rollups before the wallet, which
# deadlocked against release: issue #10), so `split`, which every other part reads, first locks the accounts
# (`locked`, ORDER BY id FOR UPDATE), then runs the consumer's rollup, then the provider's.
SETTLE_PG = compact(f"""
WITH claimed AS (
    DELETE FROM {RESERVATION}
    WHERE request_id = %(request_id)s
    RETURNING user_id, api_key_id, model_id, model_label, commit_sha, price_card_id, payee_id, reserved_tokens,
              max_cost, spend_key,
              LEAST(max_cost, {cost_sql("%(prompt_tokens)s", "%(completion_tokens)s")}) AS cost
),
locked AS MATERIALIZED (
    SELECT a.id FROM {ACCOUNT} a, claimed c
    WHERE (a.kind = 'wallet' AND a.user_id = c.user_id AND c.max_cost > 0)
       OR (c.cost > 0 AND ((a.kind = 'earnings' AND a.user_id = c.payee_id)
                           OR (a.kind = 'platform_fees' AND a.user_id IS NULL)))
    ORDER BY a.id
    FOR UPDATE OF a
),
consumer_day AS (
    INSERT INTO {CONSUMER_DAILY} (user_id, day, key_id, model_label, requests, prompt_tokens, completion_tokens, cost)
    SELECT user_id, %(day)s, COALESCE(api_key_id, 0), model_label, 1, %(prompt_tokens)s, %(completion_tokens)s, cost
    FROM claimed
    ON CONFLICT (user_id, day, key_id, model_label) DO UPDATE SET
        requests = {CONSUMER_DAILY}.requests + 1,
        prompt_tokens = {CONSUMER_DAILY}.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = {CONSUMER_DAILY}.completion_tokens + excluded.completion_tokens,
        cost = {CONSUMER_DAILY}.cost + excluded.cost
    RETURNING 1
),
provider_day AS (
    INSERT INTO {PROVIDER_DAILY} (provider_id, day, model_label, commit_sha, requests, prompt_tokens,
                                  completion_tokens, gross, earnings, fee)
    SELECT payee_id, %(day)s, model_label, commit_sha, 1, %(prompt_tokens)s, %(completion_tokens)s, cost,
           cost - {fee_sql("cost")}, {fee_sql("cost")}
    FROM claimed WHERE cost > 0
    ON CONFLICT (provider_id, day, model_label, commit_sha) DO UPDATE SET
        requests = {PROVIDER_DAILY}.requests + 1,
        prompt_tokens = {PROVIDER_DAILY}.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = {PROVIDER_DAILY}.completion_tokens + excluded.completion_tokens,
        gross = {PROVIDER_DAILY}.gross + excluded.gross,
        earnings = {PROVIDER_DAILY}.earnings + excluded.earnings,
        fee = {PROVIDER_DAILY}.fee + excluded.fee
    RETURNING 1
),
split AS MATERIALIZED (
    SELECT claimed.*, {fee_sql("cost")} AS fee,
           (SELECT count(*) FROM locked) AS accounts_locked,
           (SELECT count(*) FROM consumer_day) AS consumer_rolled,
           (SELECT count(*) FROM provider_day) AS provider_rolled
    FROM claimed
),
wallet AS (
    UPDATE {ACCOUNT} a SET balance = a.balance - s.cost, held = a.held - s.max_cost, spent = a.spent + s.cost
    FROM split s
    WHERE a.user_id = s.user_id AND a.kind = 'wallet' AND s.max_cost > 0
    RETURNING a.id
),
earned AS (
    INSERT INTO {ACCOUNT} (kind, user_id, balance, held)
    SELECT 'earnings', payee_id, cost - fee, 0 FROM split WHERE cost > 0
    ON CONFLICT (kind, user_id) DO UPDATE SET balance = {ACCOUNT}.balance + excluded.balance
    RETURNING id
),
fees AS (
    INSERT INTO {ACCOUNT} (kind, user_id, balance, held)
    SELECT 'platform_fees', NULL, fee, 0 FROM split WHERE cost > 0
    ON CONFLICT (kind) WHERE user_id IS NULL DO UPDATE SET balance = {ACCOUNT}.balance + excluded.balance
    RETURNING id
),
posted AS (
    INSERT INTO {TRANSACTION} (kind, idempotency_key, reverses_id, memo, created_at, created_by_id)
    SELECT 'charge', 'charge:' || %(request_id)s, NULL, left(model_label || '@' || left(commit_sha, 12), 200),
           %(now)s, NULL
    FROM split WHERE cost > 0
    RETURNING id
),
entries AS (
    INSERT INTO {ENTRY} (transaction_id, account_id, amount)
    SELECT posted.id, side.account_id, side.amount
    FROM posted, (
        SELECT (SELECT id FROM wallet) AS account_id, -cost AS amount FROM split
        UNION ALL SELECT (SELECT id FROM earned), cost - fee FROM split
        UNION ALL SELECT (SELECT id FROM fees), fee FROM split
    ) side
    WHERE side.amount <> 0
),
usage AS (
    INSERT INTO {USAGE} ({", ".join(USAGE_COLUMNS)})
    SELECT %(request_id)s, user_id, api_key_id, model_id, model_label, commit_sha, price_card_id,
           %(prompt_tokens)s, %(completion_tokens)s, cost, fee, %(latency_ms)s, %(status)s,
           (SELECT id FROM posted), %(now)s
    FROM split
    RETURNING id
)
SELECT u.id, user_id, api_key_id, model_id, model_label, commit_sha, price_card_id, payee_id, reserved_tokens,
       max_cost, spend_key, cost, fee, (SELECT id FROM posted),
       (SELECT tpm_limit FROM {ApiKey._meta.db_table} k WHERE k.id = api_key_id)
FROM split, usage u
""")

SETTLED_COLUMNS = (
    "id", "user_id", "api_key_id", "model_id", "model_label", "commit_sha", "price_card_id", "payee_id",
    "reserved_tokens", "max_cost", "spend_key", "cost", "fee", "transaction_id", "tpm_limit",
)  # fmt: skip


def settle_pg(*, request_id: str, prompt_tokens: int, completion_tokens: int, latency_ms: int, status: str,
              fee_percent: int, now: dt.datetime) -> dict | None:  # fmt: skip
    """Settle in one statement; None if there is no open reservation for the request."""
    params = {
        "request_id": request_id, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "latency_ms": latency_ms, "status": status, "fee_percent": fee_percent, "now": now, "day": now.date(),
    }  # fmt: skip
    row = _execute_prepared(SETTLE_PG, params)
    if row is None:
        return None
    return dict(zip(SETTLED_COLUMNS, row, strict=True))


# Authorize on PostgreSQL: find what to serve and at what price, check who may call it (the SQL copy of
# offers.resolve_offer: `offer` the prices, `named` the revision asked for or the default, `chain` a branch's walk
# back to its newest valid commit, `servable` who may call it), hold the maximum cost and record the reservation,
# all in one statement. Nothing is written unless the model is servable to the caller and the wallet covers the
# cost; the row says which check failed.
# Run on its own (autocommit), the hold commits without waiting for the WAL flush (`synchronous_commit = off`
# for this one transaction; `lazy_commit`): a hold is temporary, and the settle that follows commits durably,
# which flushes the hold with it. A PostgreSQL crash can forget at most the holds of its last ~0.6 s
# (3 x wal_writer_delay); their calls then go uncharged (docs/marketplace.md). Atomicity is unchanged.
AUTHORIZE_PG = compact(f"""
WITH RECURSIVE commit_mode AS (
    SELECT CASE WHEN %(lazy_commit)s THEN set_config('synchronous_commit', 'off', true) END AS mode
),
offer AS (
    SELECT m.id AS model_id, m.owner_id, m.is_private, l.id AS listing_id, l.status, p.id AS price_card_id,
           CASE WHEN m.owner_id = %(user_id)s THEN 0 ELSE COALESCE(p.prompt_price, 0) END AS prompt_price,
           CASE WHEN m.owner_id = %(user_id)s THEN 0 ELSE COALESCE(p.completion_price, 0) END AS completion_price,
           COALESCE(%(revision)s, l.revision, '{DEFAULT_REVISION}') AS wanted
    FROM {Model._meta.db_table} m
    LEFT JOIN {Listing._meta.db_table} l ON l.model_id = m.id
    LEFT JOIN {PriceCard._meta.db_table} p ON p.id = l.price_card_id
    WHERE m.id = %(model_id)s
),
named AS (
    SELECT COALESCE(ref.commit_id, by_sha.id) AS commit_id, COALESCE(ref.kind = 'branch', false) AS walks
    FROM offer
    LEFT JOIN LATERAL (
        SELECT r.commit_id, r.kind FROM {Ref._meta.db_table} r
        WHERE r.model_id = offer.model_id AND r.name = offer.wanted ORDER BY r.kind LIMIT 1
    ) ref ON true
    LEFT JOIN LATERAL (
        SELECT min(c.id) AS id FROM {Commit._meta.db_table} c
        WHERE ref.commit_id IS NULL AND offer.wanted ~ '^[0-9a-f]{{7,40}}$'
          AND c.model_id = offer.model_id AND left(c.sha, length(offer.wanted)) = offer.wanted
        HAVING count(*) = 1
    ) by_sha ON true
),
chain AS (
    SELECT c.id, c.sha, c.validation_status, c.parent_id, 0 AS depth, named.walks
    FROM named JOIN {Commit._meta.db_table} c ON c.id = named.commit_id
    UNION ALL
    SELECT p.id, p.sha, p.validation_status, p.parent_id, chain.depth + 1, chain.walks
    FROM chain JOIN {Commit._meta.db_table} p ON p.id = chain.parent_id
    WHERE chain.walks AND chain.validation_status <> 'valid' AND chain.depth < {BRANCH_WALK_LIMIT}
),
target AS (
    SELECT id AS commit_id, sha AS commit_sha FROM chain WHERE validation_status = 'valid' ORDER BY depth LIMIT 1
),
servable AS (
    SELECT offer.*, target.*, {cost_sql("%(prompt_tokens)s", "%(max_tokens)s")} AS max_cost
    FROM offer, target
    WHERE owner_id = %(user_id)s OR (status = 'published' AND NOT is_private)
),
held AS (
    UPDATE {ACCOUNT} a SET held = a.held + s.max_cost
    FROM servable s
    WHERE s.max_cost > 0 AND a.user_id = %(user_id)s AND a.kind = 'wallet' AND a.balance - a.held >= s.max_cost
    RETURNING a.id
),
reserved AS (
    INSERT INTO {RESERVATION} ({", ".join(RESERVATION_COLUMNS)})
    SELECT %(request_id)s, %(user_id)s, %(api_key_id)s, model_id, %(model_label)s, commit_sha,
           CASE WHEN owner_id = %(user_id)s THEN NULL ELSE price_card_id END,
           CASE WHEN max_cost > 0 THEN owner_id END, prompt_price, completion_price, %(reserved_tokens)s, max_cost,
           CASE WHEN max_cost > 0 THEN %(spend_key)s ELSE '' END, %(created_at)s, %(expires_at)s
    FROM servable
    WHERE max_cost = 0 OR EXISTS (SELECT 1 FROM held)
    RETURNING id
)
SELECT offer.listing_id, offer.status, offer.is_private, target.commit_id, target.commit_sha, offer.price_card_id,
       offer.prompt_price, offer.completion_price, (SELECT max_cost FROM servable), (SELECT id FROM reserved)
FROM offer LEFT JOIN target ON true, commit_mode
""")

AUTHORIZED_COLUMNS = (
    "listing_id", "listing_status", "model_is_private", "commit_id", "commit_sha", "price_card_id", "prompt_price",
    "completion_price", "max_cost", "reservation_id",
)  # fmt: skip


def authorize_pg(params: dict, *, lazy_commit: bool | None = None) -> dict | None:
    """Run AUTHORIZE_PG; None if the model does not exist. `max_cost` is None when the caller may not call it
    (or its revision is not valid); `reservation_id` is None when nothing was held. The commit is lazy only when
    the statement is its own transaction, unless `lazy_commit` says otherwise."""
    if lazy_commit is None:
        lazy_commit = not connection.in_atomic_block
    params = {"revision": None, **params, "lazy_commit": lazy_commit}  # revision None: the default one
    row = _execute_prepared(AUTHORIZE_PG, params)
    return dict(zip(AUTHORIZED_COLUMNS, row, strict=True)) if row else None


CANCEL_PG = compact(f"""
WITH gone AS (DELETE FROM {RESERVATION} WHERE request_id = %(request_id)s RETURNING user_id, max_cost)
UPDATE {ACCOUNT} a SET held = a.held - gone.max_cost FROM gone
WHERE a.user_id = gone.user_id AND a.kind = 'wallet' AND gone.max_cost > 0
""")


def cancel_reservation_pg(request_id: str) -> None:
    """Undo an authorization that was refused after its hold: no usage record, nothing charged."""
    _execute_prepared(CANCEL_PG, {"request_id": request_id}, fetch=False)
