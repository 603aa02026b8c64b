from django.apps import AppConfig


class EvalsConfig(AppConfig):
    name = "evals"
    verbose_name = "Evals: OpenAI's Evals API, for consumers grading any model they may call on their own data"

    def ready(self) -> None:
        from evals import kinds  # noqa: F401  (registers the `evalrun` kind)
