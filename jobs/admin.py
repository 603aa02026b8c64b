"""Operator screen for jobs of every kind, read-only (a job changes only through its services and its worker); a
job can be cancelled from here, as its owner could."""

from django.contrib import admin, messages

from core.exceptions import DomainError
from jobs import services
from jobs.models import FINISHED, Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["public_id", "kind", "owner", "base_label", "status", "resource_class", "units_done", "unit",
                    "attempts", "created_at", "finished_at"]  # fmt: skip
    list_filter = ["kind", "status", "resource_class", "created_at"]
    search_fields = ["public_id", "owner__username", "base_label", "result_label"]
    list_select_related = ["owner"]
    actions = ["cancel"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Job._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request, queryset):
        for job in queryset.exclude(status__in=FINISHED):
            try:
                services.cancel(job)
            except DomainError as exc:
                self.message_user(request, f"{job.public_id}: {exc.message}", level=messages.ERROR)
