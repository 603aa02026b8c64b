from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace: listings, ledger, usage, payouts"

    def ready(self):
        from marketplace.services import listing_stats  # models are loaded only once ready() runs
        from marketplace.services.downloads import StoreDownloads
        from registry.policy import register_download_policy
        from registry.signals import commit_validated

        register_download_policy(StoreDownloads())
        commit_validated.connect(listing_stats.on_commit_validated, dispatch_uid="marketplace-catalogue")
