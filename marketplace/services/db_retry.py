"""Transient database errors, and trying again after them: the charging statements are idempotent by request id,
so a settle or a release that met a deadlock or a dropped connection is run again instead of dropped."""

import logging
import time

import psycopg
from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

# A deadlock, a serialization failure or a dropped connection: the statement did nothing, and trying again is
# safe (settle and release are idempotent by request id). The one-statement path runs on psycopg's own cursor,
# whose errors Django does not wrap.
TRANSIENT_DB_ERRORS = (OperationalError, psycopg.OperationalError)
SETTLE_ATTEMPTS = 5


def with_retries(work, *, what: str):
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
