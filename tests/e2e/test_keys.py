"""A new API key in the browser: the form preselects what a consumer needs (read, infer); the key is shown once,
with a Copy button that puts it on the clipboard."""

import pytest
from playwright.sync_api import expect

from accounts.models import ApiKey
from tests.e2e.conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_key_and_copy_it(page, live_server, consumer, console_errors):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/settings/keys")
    checked = page.eval_on_selector_all("input[name=scopes]:checked", "boxes => boxes.map(b => b.value)")
    assert sorted(checked) == ["infer", "read"]

    page.fill("#id_name", "laptop")
    page.click("main form button[type=submit]:has-text('Create key')")
    secret = page.inner_text("#new-key").strip()
    page.click("#copy-key")
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    shoot(page, "keys-new")

    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert sorted(ApiKey.objects.get(user=consumer).scopes) == ["infer", "read"]
    page.goto(f"{live_server.url}/settings/keys")
    assert page.locator("#new-key").count() == 0  # shown once
    assert console_errors == []
