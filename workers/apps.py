from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"

    def ready(self) -> None:
        from workers import signals  # noqa: F401  (connects the worker's Celery signals)
