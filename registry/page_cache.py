"""Rendered public pages (the catalogue, the home page, a model page as visitors see it), shared by every web process
through Django's cache (Redis), kept until anything they show changes: a version that every change to a model,
commit, listing, price, review or usage count bumps is part of each page's key. A cache outage only means rendering
afresh. STOREFRONT_CACHE_SECONDS=0 turns it off. The registry and the marketplace call `changed()`."""

import hashlib
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

VERSION_KEY = "catalogue:version"


def cache_version() -> int | None:
    """The catalogue's current version (a counter every change bumps), or None when the cache is unreachable."""
    try:
        return cache.get_or_set(VERSION_KEY, 1, timeout=None)
    except Exception:  # a cache outage only means rendering afresh
        log.warning("page cache unreachable", exc_info=True)
        return None


def _bump() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # no version yet
        cache.set(VERSION_KEY, 2, timeout=None)
    except Exception:
        log.warning("page cache unreachable; pages expire in %s s", settings.STOREFRONT_CACHE_SECONDS, exc_info=True)


def changed() -> None:
    """Something a storefront page shows changed: every cached page is stale. Bumped now, and again once the
    transaction commits, so a page rendered from what other requests read before the commit is dropped too."""
    _bump()
    transaction.on_commit(_bump)


def cached_html(name: str, params: str, render: Callable[[], str]) -> str:
    """The HTML `render` makes for page `name` with query string `params`, from the cache while nothing changed."""
    version = cache_version() if settings.STOREFRONT_CACHE_SECONDS else None
    if version is None:
        return render()
    key = f"catalogue:{version}:{name}:{hashlib.sha256(params.encode()).hexdigest()}"
    try:
        html = cache.get(key)
    except Exception:
        html = None
    if html is None:
        html = render()
        try:
            cache.set(key, html, settings.STOREFRONT_CACHE_SECONDS)
        except Exception:
            log.warning("page cache unreachable", exc_info=True)
    return html
