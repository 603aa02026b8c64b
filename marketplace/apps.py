from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace: accounts, keys, listings, ledger"

    def ready(self):
        from marketplace import schema  # noqa: F401  (registers the OpenAPI description of API keys)
