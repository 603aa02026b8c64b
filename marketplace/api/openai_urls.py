from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from config.errors import not_found
from marketplace.api import openai

urlpatterns = [
    path("models", openai.list_models, name="v1-models"),
    re_path(r"^models/(?P<model_id>[^?#]+)$", openai.retrieve_model, name="v1-model"),
    path("completions", openai.completions, name="v1-completions"),
    path("chat/completions", openai.chat_completions, name="v1-chat-completions"),
    # last: any other /v1 path answers 404 in the OpenAI shape here, before the web's routes (owner/name) see it
    re_path(r"^", csrf_exempt(not_found)),
]
