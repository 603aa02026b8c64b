"""Two pages issue #22 added, as a browser shows them: /status without an infer worker, and a model whose stored
card cannot be read (shown as text with a note, never a 500)."""

import pytest

from registry import services
from tests.e2e.conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_status_page_says_calls_cannot_be_served(page, live_server, console_errors):
    page.goto(f"{live_server.url}/status")
    shoot(page, "status-no-worker")

    assert page.inner_text("[data-testid=serving]").startswith(
        "Calls cannot be served now: no inference worker is running.")  # fmt: skip
    assert console_errors == []


def test_a_card_that_cannot_be_read_shows_as_text(page, live_server, provider, monkeypatch, console_errors):
    model = services.create_model(owner=provider, name="tiny")
    monkeypatch.setattr(services, "_check_card", lambda operations: None)  # stored before the checks existed
    services.commit_card(model_id=model.pk, author=provider, content="---\nmeta: " + "[" * 50 + "]" * 50 +
                         "\n---\n# Tiny\n\nA card whose metadata is nested too deeply.\n")  # fmt: skip

    response = page.goto(f"{live_server.url}/alice/tiny")
    shoot(page, "model-unreadable-card")

    assert response.status == 200
    assert "This card's metadata could not be read (the YAML front matter is nested over 32 levels deep)" in (
        page.inner_text("[role=note]"))  # fmt: skip
    assert page.inner_text("article.card h1") == "Tiny"
    assert console_errors == []
