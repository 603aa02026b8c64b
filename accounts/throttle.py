"""Fixed-window counters in the shared cache (Redis) for web forms that send mail or guess secrets: one INCR per
attempt, so every web process counts against the same limit."""

from django.core.cache import cache
from django.http import HttpRequest


def allow(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt under `key`; False once more than `limit` were made in the current window."""
    full_key = f"throttle:{key}"
    cache.add(full_key, 0, timeout=window_seconds)  # starts the window; a no-op while one is open
    try:
        count = cache.incr(full_key)
    except ValueError:  # the window closed between add and incr
        cache.set(full_key, 1, timeout=window_seconds)
        count = 1
    return count <= limit


def client_address(request: HttpRequest) -> str:
    """The client's address as django-axes sees it (behind a proxy, configure AXES_IPWARE_* for both)."""
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or "unknown"
