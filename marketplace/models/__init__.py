"""Models of the marketplace, one module per topic: listings, catalogue, reviews, ledger, usage. (Users and keys: accounts.models.)"""

from marketplace.models.catalogue import ListingStats
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
from marketplace.models.reviews import ListingReport, Pull, ReportReason, ReportStatus, Review
from marketplace.models.usage import (
    ConsumerUsageDaily,
    ProviderEarningsDaily,
    Reservation,
    UsageRecord,
    UsageStatus,
)

__all__ = [
    "Account",
    "AccountKind",
    "Category",
    "ConsumerUsageDaily",
    "LedgerEntry",
    "LedgerTransaction",
    "Listing",
    "ListingQuerySet",
    "ListingReport",
    "ListingStats",
    "ListingStatus",
    "Payment",
    "PaymentStatus",
    "Payout",
    "PayoutStatus",
    "PriceCard",
    "ProviderEarningsDaily",
    "Pull",
    "ReportReason",
    "ReportStatus",
    "Reservation",
    "Review",
    "TransactionKind",
    "UsageRecord",
    "UsageStatus",
]
