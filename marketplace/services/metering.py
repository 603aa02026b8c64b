"""Charging a call: authorize before it runs, settle after it finishes, release if it never ran.

    authorize  scope, visibility, rate limits, spend cap (Redis, one atomic script) -> hold the maximum cost on
               the wallet (a conditional UPDATE in the database) -> Reservation              (services/authorize.py)
    settle     charge the real cost (consumer debit, provider credit, platform fee: one ledger transaction),
               release the hold, write the usage record and the daily rollups; idempotent by request id
    release    void the reservation: the hold and the Redis counters are given back; idempotent too
                                                                                              (services/settle.py)

The Redis counters and the spend cap's rebuild from the database are services/key_counters.py; transient
database errors and their retries services/db_retry.py. The owner of a model calls it free. A periodic task voids
reservations that outlived RESERVATION_TTL_SECONDS. The database work of the common path is plain SQL
(charge_sql.py) to stay within its latency budget. This module is the one door the rest of the store uses."""

from marketplace.services.authorize import Authorization, authorize, new_request_id
from marketplace.services.key_counters import hold_key_spend
from marketplace.services.settle import release, settle, void_stale_reservations

__all__ = [
    "Authorization",
    "authorize",
    "hold_key_spend",
    "new_request_id",
    "release",
    "settle",
    "void_stale_reservations",
]
