"""axe-core finds no serious or critical accessibility violation on the store's main pages, signed out and in."""

import pytest

from files import services as files
from marketplace.money import MICRO
from marketplace.services import ledger
from tests.e2e.conftest import log_in, screenshot_path, serious_violations
from tests.marketplace.conftest import publish
from tests.training.rows import fine_tuning_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_main_pages_have_no_serious_violations(page, live_server, provider, consumer, served_commit, settings):
    settings.REVIEW_LISTINGS = False
    publish(provider, "poetry-gpt", title="Poetry GPT", summary="Writes verse.", tags=("verse",), prices=("2", "4"))
    publish(consumer, "coder", summary="Completes code.", prices=("0", "0"), downloadable=True)
    ledger.top_up(user=consumer, amount=5 * MICRO)
    data = files.create_file(user=consumer, filename="d.jsonl", purpose="fine-tune", data=b'{"text": "a"}\n' * 10)
    job = fine_tuning_job(owner=consumer, commit=served_commit, base_label="alice/tiny-gpt", data=data, seed=1, estimated_tokens=10,
                                       method={"type": "supervised", "supervised": {"hyperparameters": {}}})  # fmt: skip
    base = live_server.url
    problems = {}
    for path in ("/", "/models", "/models?q=poetry", "/alice/poetry-gpt", "/compare?m=alice/poetry-gpt&m=bob/coder",
                 "/signup", "/login", "/alice", "/leaderboard"):  # fmt: skip
        page.goto(f"{base}{path}")
        problems[path] = serious_violations(page)
    log_in(page, base, "bob")
    for path in ("/settings/keys", "/settings/wallet", "/settings/usage", "/settings/earnings", "/settings/jobs",
                 "/settings/notifications", "/alice/poetry-gpt", f"/jobs/{job.public_id}"):  # fmt: skip
        page.goto(f"{base}{path}")
        problems[f"signed in {path}"] = serious_violations(page)
    page.emulate_media(color_scheme="dark")  # Pico follows the system's scheme: the dark one must pass too
    for path in ("/", "/alice/poetry-gpt", "/settings/keys", "/settings/wallet", f"/jobs/{job.public_id}"):
        page.goto(f"{base}{path}")
        problems[f"dark {path}"] = serious_violations(page)
        page.screenshot(path=screenshot_path("dark-" + (path.strip("/").replace("/", "-") or "home")), full_page=True)

    assert {path: found for path, found in problems.items() if found} == {}
