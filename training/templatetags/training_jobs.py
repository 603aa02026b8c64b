"""{% recent_jobs user as jobs %}: a user's newest jobs, for dashboards outside the training pages (the consumer's
usage page, the provider's earnings page), as the store panel on a model page is the marketplace's tag."""

from django import template

from training.models import FineTuningJob

register = template.Library()
RECENT = 5


@register.simple_tag
def recent_jobs(user) -> list[FineTuningJob]:
    """Training jobs only: a model's evaluations show on its page, eval runs on their reports."""
    found = FineTuningJob.objects.filter(owner=user).select_related("base_model__owner", "result_model__owner")
    return list(found.order_by("-created_at")[:RECENT])
