"""Fault tests reuse the marketplace's fixtures: a provider's model with a valid commit, fresh rate counters."""

from tests.marketplace.conftest import _fresh_rate_counters, provider_model  # noqa: F401 (fixtures)
