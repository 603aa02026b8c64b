"""API keys: format, storage as hashes only, scopes, revocation and expiry, commands and the keys API."""

import datetime as dt
import hashlib
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts import keys
from accounts import services as accounts
from accounts.models import ApiKey, User


def test_keys_have_prefix_checksum_and_190_plus_bits_of_secret():
    key = keys.generate_key()

    assert key.startswith("gpts_") and len(key) == 5 + 40 + 6
    assert keys.is_well_formed(key)
    assert keys.SECRET_LENGTH * 5.954 >= 190  # log2(62) bits per base62 character
    tampered = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]
    assert not keys.is_well_formed(tampered)


@pytest.mark.django_db
def test_a_key_is_stored_only_as_its_sha256(provider):
    _, secret = accounts.create_api_key(user=provider, name="ci", scopes=["read"])

    stored = ApiKey.objects.get(user=provider)
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        dump = repr(cursor.fetchall())
    assert secret not in dump and secret[len("gpts_") :] not in dump


@pytest.mark.django_db
def test_revoked_key_is_refused_at_once(client, provider, make_key):
    secret = make_key(provider, scopes=["read"])
    assert client.get("/api/whoami-v2", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200

    accounts.revoke_api_key(user=provider, key_id=ApiKey.objects.get(user=provider).pk)

    response = client.get("/api/whoami-v2", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert response.json() == {"error": "This API key has been revoked or has expired"}


@pytest.mark.django_db
def test_expired_key_is_refused(client, provider):
    api_key, secret = accounts.create_api_key(
        user=provider, name="short", scopes=["read"], expires_at=timezone.now() + dt.timedelta(seconds=30)
    )
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert client.get("/api/whoami-v2", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


@pytest.mark.django_db
def test_missing_or_wrong_token_is_401_on_writes(client, provider):
    body = '{"name": "x"}'
    missing = client.post("/api/repos/create", body, content_type="application/json")
    wrong = client.post(
        "/api/repos/create", body, content_type="application/json", HTTP_AUTHORIZATION="Bearer gpts_nope"
    )

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert provider.models.count() == 0


@pytest.mark.django_db
def test_a_key_without_the_scope_is_403_and_changes_nothing(client, provider, make_key):
    read_only = make_key(provider, scopes=["read"])

    response = client.post(
        "/api/repos/create", '{"name": "x"}', content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read_only}"
    )

    assert response.status_code == 403
    assert response.json() == {"error": "This API key lacks the 'write' scope"}
    assert provider.models.count() == 0


@pytest.mark.django_db
def test_last_used_time_is_recorded(client, provider, make_key):
    secret = make_key(provider, scopes=["read"])

    client.get("/api/whoami-v2", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert ApiKey.objects.get(user=provider).last_used_at is not None


@pytest.mark.django_db
def test_createuser_and_createkey_commands_print_a_working_key(client):
    call_command("createuser", "carol", "--email", "c@example.com", "--password", "a-long-password-1")
    out = io.StringIO()

    call_command("createkey", "carol", "--scopes", "read,write", "--name", "deploy", stdout=out, stderr=io.StringIO())

    secret = out.getvalue().strip().splitlines()[-1]
    assert keys.is_well_formed(secret)
    assert ApiKey.objects.get(user__username="carol").scopes == ["read", "write"]
    assert client.get("/api/whoami-v2", HTTP_AUTHORIZATION=f"Bearer {secret}").json()["name"] == "carol"


@pytest.mark.django_db
def test_createuser_staff_makes_an_operator_who_moderates(client):
    out = io.StringIO()
    call_command("createuser", "root", "--password", "a-long-password-1", "--staff", stdout=out)
    call_command("createuser", "plain", "--password", "a-long-password-1", stdout=io.StringIO())

    assert out.getvalue().strip() == "created operator root"
    assert list(User.objects.order_by("username").values_list("username", "is_staff", "is_superuser")) == [
        ("plain", False, False), ("root", True, True)]  # fmt: skip
    client.login(username="root", password="a-long-password-1")
    assert client.get("/admin/marketplace/listing/").status_code == 200


@pytest.mark.django_db
def test_commands_fail_clearly_on_bad_input():
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("createkey", "ghost", "--scopes", "read")
    call_command("createuser", "dave", "--password", "a-long-password-1")
    with pytest.raises(CommandError, match="scopes must be a non-empty subset"):
        call_command("createkey", "dave", "--scopes", "read,admin")
    with pytest.raises(CommandError, match="'api' is reserved"):
        call_command("createuser", "api", "--password", "a-long-password-1")
    assert ApiKey.objects.count() == 0
    assert list(User.objects.values_list("username", flat=True)) == ["dave"]


@pytest.mark.django_db
def test_keys_api_creates_once_lists_without_secret_and_revokes(client, provider, make_key):
    admin_key = make_key(provider, scopes=["read", "write"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {admin_key}"}

    created = client.post("/api/keys", {"name": "app", "scopes": ["read"]}, content_type="application/json", **auth)
    listed = client.get("/api/keys", **auth)
    revoked = client.delete(f"/api/keys/{created.json()['id']}", **auth)

    assert created.status_code == 201 and keys.is_well_formed(created.json()["key"])
    assert all("key" not in item for item in listed.json())
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/whoami-v2", HTTP_AUTHORIZATION=f"Bearer {created.json()['key']}").status_code == 401


@pytest.mark.django_db
def test_a_key_cannot_mint_a_key_with_more_scopes(client, provider, make_key):
    read_key = make_key(provider, scopes=["read"])

    response = client.post(
        "/api/keys", {"name": "up", "scopes": ["read", "write"]}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {read_key}",
    )  # fmt: skip

    assert response.status_code == 403
    assert ApiKey.objects.filter(user=provider).count() == 1


@pytest.mark.django_db
def test_one_user_cannot_revoke_anothers_key(client, provider, outsider, make_key):
    make_key(provider)
    victim = ApiKey.objects.get(user=provider)

    response = client.delete(f"/api/keys/{victim.pk}", HTTP_AUTHORIZATION=f"Bearer {make_key(outsider)}")

    assert response.status_code == 404
    victim.refresh_from_db()
    assert victim.revoked_at is None


def same_fields(found, stored) -> bool:
    """Every column of the key and of its user holds what the ORM loads."""
    return all(
        getattr(loaded, field.attname) == getattr(expected, field.attname)
        for loaded, expected in ((found, stored), (found.user, stored.user))
        for field in type(expected)._meta.concrete_fields
    )


@pytest.mark.django_db
def test_the_key_lookup_builds_the_orms_objects(provider):
    api_key, secret = accounts.create_api_key(user=provider, name="ci", scopes=["read", "infer"])
    expires = timezone.now() + dt.timedelta(days=3)
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=expires, rpm_limit=7, spend_limit=123, spend_period="week")

    found = accounts.authenticate_key(raw_key=secret)

    stored = ApiKey.objects.select_related("user").get(pk=api_key.pk)
    assert same_fields(found, stored)
    assert (found.scopes, found.expires_at, found.user.username) == (["infer", "read"], expires, "alice")
    assert found.last_used_at is not None and found.user.storage_quota_bytes == stored.user.storage_quota_bytes


@pytest.mark.django_db
def test_only_a_write_key_or_a_session_manages_keys(client, provider, make_key):
    """A read key revoked a full key, and an infer key listed every key (issue #10, finding 5)."""
    full = ApiKey.objects.get(key_hash=hashlib.sha256(make_key(provider).encode()).hexdigest())
    read_only, infer_only = make_key(provider, scopes=("read",)), make_key(provider, scopes=("infer",))
    before = list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at"))

    answers = [
        client.delete(f"/api/keys/{full.pk}", HTTP_AUTHORIZATION=f"Bearer {read_only}"),
        client.get("/api/keys", HTTP_AUTHORIZATION=f"Bearer {infer_only}"),
        client.post("/api/keys", {"name": "x", "scopes": ["infer"]}, content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {infer_only}"),
    ]  # fmt: skip

    assert [a.status_code for a in answers] == [403, 403, 403]
    assert answers[0].json()["error"]["message"] == "This API key lacks the 'write' scope"
    assert list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at")) == before
    client.force_login(provider)
    assert client.get("/api/keys").status_code == 200  # a signed-in session manages keys


@pytest.mark.django_db
def test_an_infer_key_reads_no_validation_reports_or_upload_sessions(client, provider, make_key):
    from registry import services as registry
    from registry import uploads
    from registry.models import Commit

    model = registry.create_model(owner=provider, name="tiny", is_private=True)
    blob = registry.ingest_upload(user=provider, incoming_stream=[b"{}"], size=2)
    commit = registry.commit_changes(model_id=model.pk, author=provider, message="x",
                                     operations=[registry.AddFile("config.json", blob)])  # fmt: skip
    session = uploads.start_upload(user=provider, model=model, path="model.safetensors", size=10)
    infer_only, read_only = make_key(provider, scopes=("infer",)), make_key(provider, scopes=("read",))
    report = f"/api/models/alice/tiny/commits/{commit.sha}/validation"

    refused = [
        client.get(report, HTTP_AUTHORIZATION=f"Bearer {infer_only}"),
        client.get(f"/api/uploads/{session.pk}", HTTP_AUTHORIZATION=f"Bearer {infer_only}"),
        client.put(f"/api/uploads/{session.pk}", b"0123456789", content_type="application/octet-stream",
                   HTTP_UPLOAD_OFFSET="0", HTTP_AUTHORIZATION=f"Bearer {read_only}"),
    ]  # fmt: skip
    allowed = client.get(report, HTTP_AUTHORIZATION=f"Bearer {read_only}")

    assert [r.status_code for r in refused] == [403, 403, 403]
    assert allowed.status_code == 200 and allowed.json()["sha"] == commit.sha
    session.refresh_from_db()
    assert session.received == 0
    assert Commit.objects.filter(model=model).count() == 1


@pytest.mark.django_db
def test_each_keys_spend_counts_its_own_period_in_one_query(provider, django_assert_num_queries):
    from marketplace.models import ConsumerUsageDaily
    from marketplace.services import reports

    daily, _ = accounts.create_api_key(user=provider, name="daily", scopes=["infer"])
    forever, _ = accounts.create_api_key(user=provider, name="forever", scopes=["infer"])
    for key, period in ((daily, "day"), (forever, "total")):
        accounts.set_key_limits(user=provider, key_id=key.pk, rpm_limit=None, tpm_limit=None, spend_limit=10**6,
                                spend_period=period)  # fmt: skip
        key.refresh_from_db()
    today = timezone.now().date()
    for key, day, cost in [(daily, today, 5), (daily, today - dt.timedelta(days=3), 7), (forever, today, 11),
                           (forever, today - dt.timedelta(days=30), 13)]:  # fmt: skip
        ConsumerUsageDaily.objects.create(user=provider, day=day, key_id=key.pk, model_label="alice/x", requests=1,
                                          prompt_tokens=1, completion_tokens=1, cost=cost)  # fmt: skip

    with django_assert_num_queries(1):
        spent = reports.keys_spend(api_keys=[daily, forever])

    assert spent == {daily.pk: 5, forever.pk: 24}
