from django.apps import AppConfig


class CompressionConfig(AppConfig):
    name = "compression"
    verbose_name = "Compression: quantize, prune and distill jobs, their trade-offs and the lineage graph"

    def ready(self) -> None:
        from compression import kinds  # noqa: F401  (the quantize, prune and distill kinds)
