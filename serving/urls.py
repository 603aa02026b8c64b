from django.urls import path, re_path

from serving import api as openai
from serving import training_api as training

urlpatterns = [
    path("models", openai.list_models, name="v1-models"),
    re_path(r"^models/(?P<model_id>[^?#]+)$", openai.retrieve_model, name="v1-model"),
    path("completions", openai.completions, name="v1-completions"),
    path("chat/completions", openai.chat_completions, name="v1-chat-completions"),
    path("files", training.files_collection, name="v1-files"),
    path("files/<str:file_id>", training.file_detail, name="v1-file"),
    path("files/<str:file_id>/content", training.file_content, name="v1-file-content"),
    path("fine_tuning/jobs", training.jobs_collection, name="v1-fine-tuning-jobs"),
    path("fine_tuning/jobs/<str:job_id>", training.job_detail, name="v1-fine-tuning-job"),
    re_path(
        r"^fine_tuning/jobs/(?P<job_id>[^/]+)/(?P<action>cancel|pause|resume)$",
        training.job_action,
        name="v1-fine-tuning-job-action",
    ),
    path("fine_tuning/jobs/<str:job_id>/events", training.job_events, name="v1-fine-tuning-job-events"),
    path("fine_tuning/jobs/<str:job_id>/checkpoints", training.job_checkpoints, name="v1-fine-tuning-job-checkpoints"),
]
