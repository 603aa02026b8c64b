"""What every page's header needs: how many notifications the signed-in user has not read (lazily: one count
query, only on pages that show the header to a signed-in user)."""

from django.utils.functional import SimpleLazyObject

from accounts.models import Notification


def unread_notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_count": SimpleLazyObject(lambda: Notification.objects.filter(user=user, read_at__isnull=True).count())
    }
