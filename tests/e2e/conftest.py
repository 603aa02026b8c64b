"""Browser fixtures: Debian's chromium driven by Playwright (its own browser downloads do not work here)."""

import os
import shutil

import pytest

from tests.conftest import PASSWORD

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is missing: run `make setup`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def sign_up(page, base_url, username, password="a-long-password-1"):
    page.goto(f"{base_url}/signup")
    page.fill("#id_username", username)
    page.fill("#id_password1", password)
    page.fill("#id_password2", password)
    page.click("main form button[type=submit]")


def _save_and_publish(page, title: str, prompt_price: str, completion_price: str, summary: str) -> None:
    page.click("text=Store listing")
    page.fill("#id_title", title)
    page.fill("#id_summary", summary)
    page.fill("#id_prompt_price", prompt_price)
    page.fill("#id_completion_price", completion_price)
    page.click("#listing-form button[type=submit]")
    page.wait_for_selector("text=Listing saved.")
    page.click("text=Publish")


def list_and_publish(page, title: str, prompt_price: str, completion_price: str, summary: str = ""):
    """From a model page: the listing form with a price card, saved, then published (its commit is evaluated)."""
    _save_and_publish(page, title, prompt_price, completion_price, summary)
    page.wait_for_selector("text=The listing is published.")


def publish_after_evaluation(page, title: str, prompt_price: str, completion_price: str, summary: str = ""):
    """As list_and_publish, for a commit the store has not evaluated yet: the listing waits for its evaluation,
    which a job worker's loop (run here) does; then it is live."""
    from jobs import runner

    _save_and_publish(page, title, prompt_price, completion_price, summary)
    page.wait_for_selector("text=The listing is waiting for its evaluation.")
    assert runner.run_jobs(kind_names=("evaluate",)) == 1
    page.reload()
    page.wait_for_selector("#listing-status >> text=published")


def log_in(page, base_url, username, password=PASSWORD):
    page.goto(f"{base_url}/login")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def screenshot_path(name: str) -> str:
    """Where a screenshot called `name` goes: $SCREENSHOTS (default var/screenshots), for people to look at."""
    folder = os.environ.get("SCREENSHOTS") or os.path.join("var", "screenshots")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{name}.png")


def shoot(page, name: str) -> None:
    """Save the page at desktop and phone width (screenshot_path)."""
    for width, suffix in ((1280, "desktop"), (390, "phone")):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)  # charts redraw at the new width (Chart.js resizes on a ResizeObserver)
        page.screenshot(path=screenshot_path(f"{name}-{suffix}"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def console_errors(page) -> list[str]:
    """Errors the page logs (a CSP violation is one): a test asserts the list stays empty."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


AXE = os.path.join(os.path.dirname(__file__), "..", "..", "node_modules", "axe-core", "axe.min.js")


def serious_violations(page) -> list[str]:
    """axe-core (from npm, make setup) run on the current page: its serious and critical violations, described."""
    with open(AXE, encoding="utf-8") as source:  # evaluated through the DevTools protocol: the page's CSP stays on
        page.evaluate(source.read())
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in found if v["impact"] in ("serious", "critical")]  # fmt: skip


def menu(page, item: str) -> None:
    """Open the account menu of the header (a <details>, no JavaScript) and choose one of its items."""
    page.click("header details.account-menu > summary")
    page.click(f"header details.account-menu ul >> text={item}")
