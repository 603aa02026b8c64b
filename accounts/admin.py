"""Operator screens for users and keys. A key's hash and prefix are read-only: its secret was never stored."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import ApiKey, User


@admin.register(User)
class StoreUserAdmin(UserAdmin):
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Storage", {"fields": ("storage_quota_bytes", "storage_used_bytes")}))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "prefix"]
