from django.urls import path, re_path

from serving import api as openai

urlpatterns = [
    path("models", openai.list_models, name="v1-models"),
    re_path(r"^models/(?P<model_id>[^?#]+)$", openai.retrieve_model, name="v1-model"),
    path("completions", openai.completions, name="v1-completions"),
    path("chat/completions", openai.chat_completions, name="v1-chat-completions"),
]
