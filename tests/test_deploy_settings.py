"""Production settings: `manage.py check --deploy` is clean, and every answer carries the security headers."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "x" * 20 + "-production-secret-with-entropy-0123456789abcdef",
              "ALLOWED_HOSTS": "store.example.com", "DJANGO_SETTINGS_MODULE": "config.settings"}  # fmt: skip


def test_check_deploy_is_clean_with_a_production_environment(tmp_path):
    env = {**os.environ, **PRODUCTION, "VAR_DIR": str(tmp_path)}
    for name in ("HTTPS", "SECURE_COOKIES", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        env.pop(name, None)  # the defaults are what is checked
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True)  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_https_defaults_follow_debug(tmp_path):
    def read(**extra) -> list[str]:
        env = {**os.environ, **PRODUCTION, "VAR_DIR": str(tmp_path), **extra}
        env.pop("HTTPS", None) if "HTTPS" not in extra else None
        code = ("from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
                "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)")  # fmt: skip
        out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=settings.BASE_DIR,
                             env=env, capture_output=True, text=True, check=True)  # fmt: skip
        return out.stdout.split()

    assert read() == ["True", "True", "True", "31536000"]
    assert read(DEBUG="1") == ["False", "False", "False", "0"]
    assert read(HTTPS="0") == ["False", "False", "False", "0"]
    assert read(HTTPS="0", SECURE_COOKIES="1") == ["False", "True", "True", "0"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/login", "/api/docs/", "/v1/models", "/api/models"])
def test_every_answer_carries_a_csp_without_inline_scripts(client, url):
    response = client.get(url)

    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and "unsafe-inline" not in policy
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


@pytest.mark.django_db
def test_the_api_docs_are_served_from_our_own_static_files(client):
    page = client.get("/api/docs/").content.decode()

    assert "https://" not in page and "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "<script>" not in page.replace(" ", "")  # no inline script: the page's own script is a file
