"""The Celery app. Queues: `validate` (checkpoint validation), later `evaluate`, `train`, `infer`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gptstore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
