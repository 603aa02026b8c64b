"""What the schema promises about every answer (issue #22, item 10): a 405 names what is allowed (`Allow`), the
LFS batch route answers a missing repository in JSON (the git-LFS shape), and every refusal of an API is JSON."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "url"),
    [("put", "/api/models/alice/tiny"), ("delete", "/v1/models"), ("patch", "/api/keys"), ("post", "/status"),
     ("put", "/login"), ("post", "/alice/tiny/resolve/main/a.txt"), ("get", "/api/validate-yaml"),
     ("get", "/api/repos/create"), ("put", "/api/whoami-v2"), ("post", "/api/models"),
     ("get", "/alice/tiny.git/info/lfs/objects/batch"), ("put", "/v1/files"), ("post", "/api/v1/credits"),
     ("put", "/password-reset"), ("patch", "/signup")],
)  # fmt: skip
def test_a_method_not_allowed_is_405_with_allow(probe, provider_key, method, url):
    response = getattr(probe, method)(url, HTTP_AUTHORIZATION=f"Bearer {provider_key}")

    assert response.status_code == 405, (response.status_code, response.content[:200])
    assert response["Allow"], url
    assert method.upper() not in response["Allow"].split(", ")


def test_the_lfs_batch_of_a_missing_repository_is_a_json_404(probe, provider_key):
    body = {"operation": "download", "transfers": ["basic"], "objects": [{"oid": "a" * 64, "size": 1}]}

    response = probe.post("/nobody/none.git/info/lfs/objects/batch", body, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {provider_key}")  # fmt: skip

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/")
    assert response["Content-Type"].split(";")[0] in ("application/json", "application/vnd.git-lfs+json")
    assert "message" in response.json() or "error" in response.json()
