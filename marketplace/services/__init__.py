"""State changes of the marketplace, one module per topic. Views, API views, tasks, admin actions and commands
call these; nothing else writes.

- accounts: users, API keys, storage quota (re-exported here: `services.create_user`, ...)
- listings: listings, price cards, review and publishing
- ledger: the double-entry ledger, top-ups, refunds, payouts
- limits: per-key rate limits and spend caps, as atomic Redis scripts
- metering: authorize, settle and release a call (the door to authorize, settle, key_counters and db_retry)
"""

from marketplace.services.accounts import (
    RESERVED_NAMESPACES,
    authenticate_key,
    create_api_key,
    create_user,
    parse_scopes,
    release_storage,
    reserve_storage,
    revoke_api_key,
    set_key_limits,
)

__all__ = [
    "RESERVED_NAMESPACES",
    "authenticate_key",
    "create_api_key",
    "create_user",
    "parse_scopes",
    "release_storage",
    "reserve_storage",
    "revoke_api_key",
    "set_key_limits",
]
