from django.contrib import admin

from registry.models import Blob, Commit, Model, Ref


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["__str__", "is_private", "created_at", "updated_at"]
    search_fields = ["name", "owner__username"]


@admin.register(Commit)
class CommitAdmin(admin.ModelAdmin):
    list_display = ["sha", "model", "message", "validation_status", "created_at"]
    list_filter = ["validation_status"]
    readonly_fields = ["sha", "parent", "model", "author"]


@admin.register(Ref)
class RefAdmin(admin.ModelAdmin):
    list_display = ["model", "kind", "name", "commit"]


@admin.register(Blob)
class BlobAdmin(admin.ModelAdmin):
    list_display = ["sha256", "size", "created_at"]
