from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts: users, API keys, authentication"

    def ready(self):
        from accounts import notifications, schema  # noqa: F401  (the outbox's email consumer; the keys' OpenAPI)
