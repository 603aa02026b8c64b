"""Rendered public pages (the catalogue, the home page, a model page as visitors see it), shared by every web process
through Django's cache (Redis), kept until anything they show changes: a version that every change to a model,
commit, listing, price, review or usage count bumps is part of each page's key. A cache outage only means rendering
afresh. STOREFRONT_CACHE_SECONDS=0 turns it off. The registry and the marketplace call `changed()`."""

import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

VERSION_KEY = "catalogue:version"
T = TypeVar("T")


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


def _key(version: int, name: str, params: str) -> str:
    return f"catalogue:{version}:{name}:{hashlib.sha256(params.encode()).hexdigest()}"


def forget(name: str, params: str = "") -> None:
    """Drop what `cached(name, params, ..., seconds=...)` keeps (tests start without it)."""
    cache.delete(_key(0, name, params))


def cached(name: str, params: str, compute: Callable[[], T], *, seconds: int | None = None) -> T:
    """What `compute` makes for `name` with `params` (a page's HTML for its query string), from the cache while
    nothing changed. With `seconds`, kept that long whatever changes (for what changes rarely and may lag a
    little, like the licences the catalogue's filter offers)."""
    version = cache_version() if settings.STOREFRONT_CACHE_SECONDS else None
    if version is None:
        return compute()
    key = _key(0 if seconds is not None else version, name, params)
    try:
        value = cache.get(key)
    except Exception:
        value = None
    if value is None:
        value = compute()
        try:
            cache.set(key, value, seconds or settings.STOREFRONT_CACHE_SECONDS)
        except Exception:
            log.warning("page cache unreachable", exc_info=True)
    return value
