from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts: users, API keys, authentication"

    def ready(self):
        from accounts import schema  # noqa: F401  (registers the OpenAPI description of API keys)
