"""The accounts tests use the marketplace's listings and funded consumers, and start each from fresh rate counters."""

from tests.marketplace.conftest import (  # noqa: F401  (fixtures, found by pytest through this module)
    _fresh_rate_counters,
    cheap_listing,
    funded_consumer,
    listing,
    provider_model,
)
