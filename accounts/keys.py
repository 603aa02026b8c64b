"""The API key format: `gpts_` + 40 base62 characters of secret (~238 bits) + 6 base62 characters of CRC32.

The fixed prefix and checksum let secret scanners find leaked keys with few false positives, and let the
server refuse a mistyped key without touching the database."""

import hashlib
import re
import secrets
import zlib

KEY_PREFIX = "gpts_"
SECRET_LENGTH = 40
CHECKSUM_LENGTH = 6
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[0-9A-Za-z]{{{SECRET_LENGTH + CHECKSUM_LENGTH}}}$")
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 6


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(secret: str) -> str:
    return _base62(zlib.crc32(secret.encode("ascii")), CHECKSUM_LENGTH)


def generate_key() -> str:
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))
    return f"{KEY_PREFIX}{secret}{_checksum(secret)}"


def is_well_formed(key: str) -> bool:
    """True when the key has our shape and its checksum matches (no database needed)."""
    if not KEY_PATTERN.fullmatch(key):
        return False
    body = key[len(KEY_PREFIX) :]
    return _checksum(body[:SECRET_LENGTH]) == body[SECRET_LENGTH:]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("ascii", errors="replace")).hexdigest()
