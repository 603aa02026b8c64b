"""Operator screens for users and keys. A key's hash and prefix are read-only: its secret was never stored."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts import services
from accounts.models import ApiKey, User


@admin.register(User)
class StoreUserAdmin(UserAdmin):
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Storage", {"fields": ("storage_quota_bytes", "storage_used_bytes")}))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["key_hash", "prefix"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_key(user=key.user, key_id=key.pk)
