"""Models of the marketplace, one module per topic: accounts and keys, listings, ledger, usage."""

from marketplace.models.accounts import (
    NAMESPACE_PATTERN,
    ApiKey,
    ApiKeyQuerySet,
    Scope,
    SpendPeriod,
    User,
    default_quota,
    namespace_validator,
)
from marketplace.models.ledger import (
    Account,
    AccountKind,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentStatus,
    Payout,
    PayoutStatus,
    TransactionKind,
)
from marketplace.models.listings import Category, Listing, ListingQuerySet, ListingStatus, PriceCard
from marketplace.models.usage import (
    ConsumerUsageDaily,
    ProviderEarningsDaily,
    Reservation,
    UsageRecord,
    UsageStatus,
)

__all__ = [
    "NAMESPACE_PATTERN",
    "Account",
    "AccountKind",
    "ApiKey",
    "ApiKeyQuerySet",
    "Category",
    "ConsumerUsageDaily",
    "LedgerEntry",
    "LedgerTransaction",
    "Listing",
    "ListingQuerySet",
    "ListingStatus",
    "Payment",
    "PaymentStatus",
    "Payout",
    "PayoutStatus",
    "PriceCard",
    "ProviderEarningsDaily",
    "Reservation",
    "Scope",
    "SpendPeriod",
    "TransactionKind",
    "UsageRecord",
    "UsageStatus",
    "User",
    "default_quota",
    "namespace_validator",
]
