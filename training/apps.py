from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training: the fine-tuning and pretraining kinds of job"

    def ready(self) -> None:
        from training import kinds  # noqa: F401  (registers `finetune` and `pretrain` with the job system)
