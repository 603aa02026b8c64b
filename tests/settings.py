"""Test settings: the real settings, with storage in a temporary folder and Redis on its own database."""

import os
import tempfile
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import CACHES, DATABASES, STORAGES

STORAGE_ROOT = Path(tempfile.mkdtemp(prefix="gptstore-test-storage-"))
UPLOAD_TEMP_DIR = STORAGE_ROOT / ".incoming"
STORAGES["default"]["OPTIONS"]["location"] = str(STORAGE_ROOT)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
CELERY_BROKER_URL = REDIS_URL
CACHES["default"]["LOCATION"] = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; production uses PBKDF2
DATABASES["default"]["CONN_MAX_AGE"] = 0  # live-server threads must not hold connections past a test
STATIC_ROOT = STORAGE_ROOT / "static"  # whitenoise wants the folder to exist; tests serve no collected files
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# the live servers of the tests speak plain http (tests/test_deploy_settings.py checks the production defaults)
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
AXES_ENABLED = False  # Client.login() authenticates without a request, which axes refuses; tests/test_login_throttle.py turns it on
