"""Operator screen for files, read-only (a file changes only through its services)."""

from django.contrib import admin

from files.models import File


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ["public_id", "owner", "filename", "purpose", "format", "examples", "bytes", "created_at"]
    list_select_related = ["owner", "blob"]
    list_filter = ["purpose", "format"]
    search_fields = ["public_id", "owner__username", "filename"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in File._meta.fields]

    def has_add_permission(self, request):
        return False
