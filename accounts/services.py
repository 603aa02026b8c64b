"""State changes for accounts and API keys. Views, API views and commands call these; nothing else writes."""

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import key_lookup, keys
from accounts.models import ApiKey, Scope, SpendPeriod, User
from core.exceptions import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied, QuotaExceeded

RESERVED_NAMESPACES = frozenset(
    {
        "admin",
        "api",
        "v1",
        "static",
        "media",
        "accounts",
        "account",
        "keys",
        "models",
        "leaderboard",
        "new",
        "settings",
        "login",
        "logout",
        "signup",
        "docs",
        "schema",
        "uploads",
        "lfs",
        "demo-admin",
        "huggingface",
        "openai",
        "jobs",
        "search",
        "compare",
        "status",
    }
)
LAST_USED_GRANULARITY = dt.timedelta(seconds=60)


def create_user(*, username: str, email: str = "", password: str) -> User:
    """Create an account; its username becomes its namespace."""
    if username.lower() in RESERVED_NAMESPACES:
        raise InvalidInput(f"'{username}' is reserved", param="username")
    user = User(username=username, email=email)
    try:
        user.full_clean(exclude=["password"])
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("; ".join(exc.messages), param="username") from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise InvalidInput(f"'{username}' is taken", param="username") from None
    return user


def make_operator(*, user_id: int) -> User:
    """Let a user run the store from /admin: moderate listings and reports, pay out, revoke keys."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


def parse_scopes(raw: str | Iterable[str]) -> list[str]:
    """Turn 'read,write' or ['read', 'write'] into a checked, ordered list of scopes."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = sorted({item.strip() for item in items if item.strip()})
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown or not scopes:
        raise InvalidInput(
            f"scopes must be a non-empty subset of {', '.join(Scope.values)}; got {', '.join(unknown) or 'none'}",
            param="scopes",
        )
    return scopes


def create_api_key(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: dt.datetime | None = None,
    created_with: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Make a key and return it with its secret, which is never stored and cannot be shown again.

    A key may only mint keys with scopes it has itself, so a leaked read key cannot become a write key."""
    scope_list = parse_scopes(scopes)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("name must be 1-100 characters", param="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("expires_at must be in the future", param="expires_at")
    if created_with is not None and not set(scope_list) <= set(created_with.scopes):
        raise PermissionDenied("a key can only create keys with scopes it has itself")
    with transaction.atomic():
        User.objects.select_for_update().filter(
            pk=user.pk
        ).exists()  # one key created at a time per user: the cap holds
        if ApiKey.objects.active().filter(user=user).count() >= settings.MAX_KEYS_PER_USER:
            raise Conflict(
                f"you have {settings.MAX_KEYS_PER_USER} active API keys, the most allowed: revoke one first",
                param="name",
            )
        return _insert_key(user=user, name=name, scopes=scope_list, expires_at=expires_at)


def _insert_key(*, user: User, name: str, scopes: list[str], expires_at: dt.datetime | None) -> tuple[ApiKey, str]:
    secret = keys.generate_key()
    api_key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=secret[: keys.DISPLAY_PREFIX_LENGTH],
        key_hash=keys.hash_key(secret),
        scopes=scopes,
        expires_at=expires_at,
    )
    return api_key, secret


def revoke_api_key(*, user: User, key_id: int) -> ApiKey:
    """Revoke one of the user's keys. It is refused from the next request on. Revoking twice is a no-op."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().filter(user=user, pk=key_id).first()
        if api_key is None:
            raise NotFound("no such key")
        if api_key.revoked_at is None:
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
    return api_key


def authenticate_key(*, raw_key: str) -> ApiKey:
    """Find the active key for a bearer secret, or raise NotAuthenticated. Touches last_used_at (coarsely)."""
    if not keys.is_well_formed(raw_key):
        raise NotAuthenticated("Invalid API key: it is malformed or its checksum does not match")
    api_key = key_lookup.find_key(keys.hash_key(raw_key))
    if api_key is None:
        raise NotAuthenticated("Invalid API key")
    if not api_key.is_active or not api_key.user.is_active:
        raise NotAuthenticated("This API key has been revoked or has expired")
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_GRANULARITY:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def reserve_storage(*, user_id: int, size: int) -> None:
    """Atomically claim `size` bytes of the user's quota before storing them, or raise QuotaExceeded."""
    claimed = User.objects.filter(pk=user_id, storage_used_bytes__lte=F("storage_quota_bytes") - size).update(
        storage_used_bytes=F("storage_used_bytes") + size
    )
    if claimed != 1:
        raise QuotaExceeded(f"storage quota exceeded: {size} more bytes do not fit")


def release_storage(*, user_id: int, size: int) -> None:
    """Give back bytes reserved by an upload that did not complete."""
    User.objects.filter(pk=user_id, storage_used_bytes__gte=size).update(
        storage_used_bytes=F("storage_used_bytes") - size
    )


MAX_RATE_LIMIT = 10**9
MAX_SPEND_LIMIT = 10**15  # micro-credits (a billion credits): well inside the bigint column


def set_key_limits(
    *, user: User, key_id: int, rpm_limit: int | None, tpm_limit: int | None, spend_limit: int | None, spend_period: str
) -> ApiKey:
    """Set a key's requests and tokens per minute (None: the store's default) and its spend cap (None: none).
    The new limits apply from the key's next request."""
    for name, value in (("rpm_limit", rpm_limit), ("tpm_limit", tpm_limit)):
        if value is not None and not 1 <= value <= MAX_RATE_LIMIT:
            raise InvalidInput(f"{name} must be between 1 and {MAX_RATE_LIMIT}", param=name)
    if spend_limit is not None and not 0 <= spend_limit <= MAX_SPEND_LIMIT:
        raise InvalidInput(f"spend_limit must be between 0 and {MAX_SPEND_LIMIT // 10**6} credits", param="spend_limit")
    if spend_period not in SpendPeriod.values:
        raise InvalidInput(f"spend_period must be one of {', '.join(SpendPeriod.values)}", param="spend_period")
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().filter(user=user, pk=key_id).first()
        if api_key is None:
            raise NotFound("no such key")
        api_key.rpm_limit, api_key.tpm_limit = rpm_limit, tpm_limit
        api_key.spend_limit, api_key.spend_period = spend_limit, spend_period
        api_key.save(update_fields=["rpm_limit", "tpm_limit", "spend_limit", "spend_period"])
    return api_key
