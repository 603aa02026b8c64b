from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"
    verbose_name = "Evaluation: the store's own measure of every commit, its gate on listings, the leaderboard"

    def ready(self) -> None:
        from evaluation import consumers, gate, kinds  # noqa: F401  (the `evaluate` kind, its trigger, the gate)
