from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Files: training data, eval items and batch requests (/v1/files)"
