"""Web sign-up, log-in, log-out and the keys page."""

import pytest

from accounts.models import ApiKey, User


@pytest.mark.django_db
def test_sign_up_logs_in_and_owns_a_namespace(client):
    response = client.post(
        "/signup",
        {
            "username": "erin",
            "email": "e@example.com",
            "password1": "a-long-password-1",
            "password2": "a-long-password-1",
        },
    )

    assert response.status_code == 302
    home = client.get("/")
    assert home.context["user"].username == "erin"
    assert User.objects.filter(username="erin").exists()
    assert "Welcome, erin: your account is ready." in home.content.decode()  # no word after sign-up (issue #23)


@pytest.mark.django_db
def test_sign_up_with_a_taken_or_reserved_name_shows_a_form_error(client, provider):
    taken = client.post(
        "/signup", {"username": "alice", "password1": "a-long-password-1", "password2": "a-long-password-1"}
    )
    reserved = client.post(
        "/signup", {"username": "api", "password1": "a-long-password-1", "password2": "a-long-password-1"}
    )

    assert taken.status_code == 200 and "That name is taken." in taken.content.decode()
    assert reserved.status_code == 200 and "is reserved" in reserved.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_log_in_and_out(client, provider):
    from tests.conftest import PASSWORD

    assert client.post("/login", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.get("/settings/keys").status_code == 200
    client.post("/logout")
    assert client.get("/settings/keys").status_code == 302


@pytest.mark.django_db
def test_keys_page_shows_a_new_key_once_and_revokes(client, provider):
    client.force_login(provider)

    created = client.post("/settings/keys", {"name": "laptop", "scopes": ["read", "infer"]})
    secret = created.context["new_secret"]
    again = client.get("/settings/keys").content.decode()
    key = ApiKey.objects.get(user=provider)
    client.post(f"/settings/keys/{key.pk}/revoke")

    assert secret in created.content.decode() and secret not in again
    assert key.scopes == ["infer", "read"]
    key.refresh_from_db()
    assert key.revoked_at is not None


@pytest.mark.django_db
def test_key_forms_refuse_posts_without_csrf(provider):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(provider)

    assert strict.post("/settings/keys", {"name": "x", "scopes": ["read"]}).status_code == 403
    assert ApiKey.objects.count() == 0
