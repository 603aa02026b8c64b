from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace: listings, ledger, usage, payouts"

    def ready(self):
        from marketplace.services.downloads import StoreDownloads  # models are loaded only once ready() runs
        from registry.policy import register_download_policy

        register_download_policy(StoreDownloads())
