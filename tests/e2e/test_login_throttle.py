"""Web log-ins are throttled (issue #22, item 4): 40 wrong passwords in 17 s all answered 200 and the right one
then logged in. Now django-axes pauses log-ins for an account, or from an address, after LOGIN_FAILURE_LIMIT
wrong passwords, says so with the cool-down, and refuses even the right password until it ends."""

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def throttled(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5


def try_password(page, base_url, username, password):
    page.goto(f"{base_url}/login")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def test_wrong_passwords_pause_log_in_with_a_clear_message_in_a_browser(page, live_server, consumer, throttled):
    statuses = []
    page.on("response", lambda response: statuses.append(response.status) if response.request.method == "POST" else 0)
    for attempt in range(4):
        try_password(page, live_server.url, "bob", f"wrong-{attempt}")
        assert "Please enter a correct username and password" in page.inner_text("main")

    try_password(page, live_server.url, "bob", "wrong-5")  # the 5th failure locks
    try_password(page, live_server.url, "bob", PASSWORD)  # the right one, during the cool-down
    shoot(page, "login-locked-out")

    assert statuses == [200, 200, 200, 200, 429, 429]
    assert page.inner_text("[data-testid=locked-out]") == (
        "Log-in is paused for this account or from this address after 5 wrong passwords. Try again in 15 minutes.")  # fmt: skip
    assert "sessionid" not in {cookie["name"] for cookie in page.context.cookies()}


def test_a_success_before_the_limit_starts_the_count_again(client, consumer, throttled):
    for attempt in range(4):
        assert client.post("/login", {"username": "bob", "password": f"wrong-{attempt}"}).status_code == 200
    assert client.post("/login", {"username": "bob", "password": PASSWORD}).status_code == 302
    client.logout()

    for attempt in range(4):
        assert client.post("/login", {"username": "bob", "password": f"wrong-{attempt}"}).status_code == 200
    assert client.post("/login", {"username": "bob", "password": PASSWORD}).status_code == 302


def test_one_address_trying_many_accounts_is_paused(client, provider, consumer, outsider, throttled):
    names = ["alice", "bob", "mallory", "nobody", "root"]
    answers = [client.post("/login", {"username": name, "password": "guess"}).status_code for name in names]
    right = client.post("/login", {"username": "bob", "password": PASSWORD})

    assert answers == [200, 200, 200, 200, 429]
    assert right.status_code == 429 and "_auth_user_id" not in client.session
