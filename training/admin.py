"""Operator screens for training: jobs and their files, read-only (a job changes only through its services and its
worker); a job can be cancelled from here, as its owner could."""

from django.contrib import admin, messages

from core.exceptions import DomainError
from training import jobs
from training.models import FineTuningJob, JobStatus, TrainingFile


@admin.register(FineTuningJob)
class FineTuningJobAdmin(admin.ModelAdmin):
    list_display = ["public_id", "owner", "base_label", "status", "trained_tokens", "attempts", "created_at",
                    "finished_at"]  # fmt: skip
    list_filter = ["status", "created_at"]
    search_fields = ["public_id", "owner__username", "base_label", "fine_tuned_model"]
    list_select_related = ["owner"]
    actions = ["cancel"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in FineTuningJob._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request, queryset):
        for job in queryset.exclude(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]):
            try:
                jobs.cancel_job(user=job.owner, job_id=job.public_id)
            except DomainError as exc:
                self.message_user(request, f"{job.public_id}: {exc.message}", level=messages.ERROR)


@admin.register(TrainingFile)
class TrainingFileAdmin(admin.ModelAdmin):
    list_display = ["public_id", "owner", "filename", "purpose", "format", "examples", "bytes", "created_at"]
    list_select_related = ["owner", "blob"]
    list_filter = ["purpose", "format"]
    search_fields = ["public_id", "owner__username", "filename"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in TrainingFile._meta.fields]

    def has_add_permission(self, request):
        return False
