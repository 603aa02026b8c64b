"""CAS access tokens (spec/auth.md): the Hub API issues one for a repository and ref, read or write, to a caller with
that access; the CAS takes it as a bearer token until it expires. Only the token's sha256 is stored."""

import datetime
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from core.exceptions import NotAuthenticated, PermissionDenied
from registry.models import Model
from registry.xet.models import XetScope, XetToken

PREFIX = "xet_"


@dataclass(frozen=True)
class Grant:
    """What a valid token lets its bearer do."""

    user: User | None
    model: Model
    revision: str
    scope: str

    @property
    def may_write(self) -> bool:
        return self.scope == XetScope.WRITE


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def issue(*, user: User | None, model: Model, revision: str, scope: str) -> tuple[str, datetime.datetime]:
    """A new token and its expiry. The caller has checked the access (registry.api.xet_tokens)."""
    text = PREFIX + secrets.token_urlsafe(32)
    expires = timezone.now() + datetime.timedelta(seconds=settings.XET_TOKEN_TTL_SECONDS)
    XetToken.objects.create(key_hash=_digest(text), user=user, model=model, revision=revision, scope=scope,
                            expires_at=expires)  # fmt: skip
    XetToken.objects.filter(expires_at__lt=timezone.now() - datetime.timedelta(days=1)).delete()  # keep the table small
    return text, expires


def authenticate(header: str | None) -> Grant:
    """The grant of `Authorization: Bearer <token>`: 401 for none, an unknown or expired token, or one whose holder
    lost the access it was issued for (the repository went private to them, or is gone)."""
    if not header or not header.startswith("Bearer "):
        raise NotAuthenticated("the CAS needs 'Authorization: Bearer <token>' from the xet-read-token or "
                               "xet-write-token endpoint")  # fmt: skip
    text = header[len("Bearer ") :].strip()
    token = (
        XetToken.objects.filter(key_hash=_digest(text), expires_at__gt=timezone.now())
        .select_related("user", "model")
        .first()
    )
    if token is None or (token.user is not None and not token.user.is_active):
        raise NotAuthenticated("this CAS token is unknown or has expired; ask the Hub API for a new one")
    model = token.model
    still_allowed = model.owner_id == token.user_id if token.scope == XetScope.WRITE else (
        not model.is_private or model.owner_id == token.user_id)  # fmt: skip
    if not still_allowed:
        raise NotAuthenticated("this CAS token's holder no longer has the access it was issued for")
    return Grant(user=token.user, model=model, revision=token.revision, scope=token.scope)


def writer(grant: Grant) -> User:
    """The user a write grant acts for; 403 for a read token."""
    if not grant.may_write or grant.user is None:
        raise PermissionDenied("this is a read token; uploads need one from xet-write-token")
    return grant.user
