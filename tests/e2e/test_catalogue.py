"""The storefront in a real browser: search from the home page, narrow by price with the filter form (plain GET,
no JavaScript needed), open a card. Screenshots of each page at desktop and phone width go to var/screenshots."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot_path, shoot
from tests.marketplace.conftest import publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_filter_and_open_a_model(page, live_server, provider, consumer, settings, console_errors):
    settings.REVIEW_LISTINGS = False
    publish(provider, "poetry-gpt", title="Poetry GPT", summary="Writes short verse about Python.",
            category="writing", tags=("verse",), prices=("2", "4"), parameters=5_300_000)  # fmt: skip
    publish(provider, "poetry-pro", title="Poetry Pro", summary="Longer poems, at a price.", category="writing",
            prices=("20", "60"), parameters=124_000_000, downloadable=True)  # fmt: skip
    publish(consumer, "coder", summary="Completes Python code.", category="code", tags=("python",),
            prices=("0", "0"), card="# Coder\n\nIt writes a little poetry too.")  # fmt: skip

    page.goto(f"{live_server.url}/")
    expect(page.locator("#trending-heading")).to_be_visible()
    shoot(page, "home")
    page.fill("#q", "poetry")
    page.press("#q", "Enter")
    page.wait_for_url(f"{live_server.url}/models?q=poetry")
    expect(page.locator("#results-heading")).to_have_text("3 models for “poetry”")
    expect(page.locator(".listing-card h3")).to_have_text(
        ["Poetry Pro", "Poetry GPT", "coder"]
    )  # equal rank: newest first

    page.fill("#f-price", "5")
    page.click(".filters-panel button[type=submit]")
    page.wait_for_url("**/models?q=poetry&category=&tag=&license=&access=&max_price=5**")
    expect(page.locator(".listing-card h3")).to_have_text(["Poetry GPT", "coder"])
    expect(page.locator(".listing-card").first).to_contain_text("2 in · 4 out")
    expect(page.locator(".listing-card").first).to_contain_text("5.3M")
    shoot(page, "catalogue")

    page.check("input[name=m][value='alice/poetry-gpt']")
    page.check("input[name=m][value='bob/coder']")
    page.click("text=Compare selected")
    page.wait_for_url(f"{live_server.url}/compare?m=alice%2Fpoetry-gpt&m=bob%2Fcoder")
    expect(page.locator("table.compare thead th")).to_have_text(
        ["Figure", "Poetry GPTalice/poetry-gpt", "coderbob/coder"]
    )
    aligned = page.eval_on_selector_all(
        "table.compare tbody td", "cells => cells.map(c => getComputedStyle(c).textAlign)"
    )
    assert set(aligned) == {"left"}, aligned  # prices were right-aligned, the rest left (issue #23)
    shoot(page, "compare")

    page.go_back()
    page.click("text=Poetry GPT")
    page.wait_for_url(f"{live_server.url}/alice/poetry-gpt")
    expect(page.locator("#listing")).to_contain_text("5.3M")
    shoot(page, "model")
    page.goto(f"{live_server.url}/alice")
    expect(page.locator(".profile-facts")).to_contain_text("2 published models")
    shoot(page, "provider")

    # On a phone the filters fold away so that the results come first, unless some are in force.
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{live_server.url}/models?q=poetry")
    expect(page.locator(".filters-box")).not_to_have_attribute("open", "")
    expect(page.locator("#f-price")).to_be_hidden()
    assert page.locator("#results-heading").bounding_box()["y"] < 900  # in the first screenful
    page.screenshot(path=screenshot_path("catalogue-folded-phone"), full_page=True)
    page.click(".filters-box summary")
    expect(page.locator("#f-price")).to_be_visible()
    page.goto(f"{live_server.url}/models?q=poetry&max_price=5&license=mit")
    expect(page.locator(".filters-box summary")).to_have_text("Filter and sort (2 active)")
    expect(page.locator("#f-price")).to_have_value("5")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/models?q=poetry")
    expect(page.locator("#f-price")).to_be_visible()  # a wide screen keeps them open
    assert console_errors == []
