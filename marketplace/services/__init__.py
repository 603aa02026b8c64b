"""State changes of the marketplace, one module per topic. Views, API views, tasks, admin actions and commands
call these; nothing else writes.

- listings: listings, price cards, review and publishing
- ledger: the double-entry ledger, top-ups, refunds, payouts
- limits: per-key rate limits and spend caps, as atomic Redis scripts
- metering: authorize, settle and release a call (the door to authorize, settle, key_counters and db_retry)
"""
