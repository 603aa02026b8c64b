"""Every page of the three journeys (consumer, provider, moderator), signed out and in, at 1280 and 390 px: each is
saved as a screenshot (var/screenshots/walk-*) for people to look at, and checked for what people saw wrong before:
an element wider than the screen, a word broken inside itself, a label beside another's value, a console error."""

import json
import re

import pytest
from django.utils import timezone

from accounts import notifications
from accounts import services as accounts
from accounts.models import ApiKey
from files import services as files
from jobs.models import JobEvent
from marketplace.money import MICRO
from marketplace.services import ledger, listing_stats, listings, metering, reviews
from registry import services as registry
from registry.models import Commit
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in, screenshot_path
from tests.e2e.layout_checks import layout_problems
from tests.marketplace.conftest import publish
from tests.training.rows import fine_tuning_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARD = """---
license: mit
tags: [tiny, python, verse]
---
# Tiny GPT

A two-layer GPT-2 trained on Python's own documentation. It writes **Python-ish** text.

| Setting | Value |
|---|---|
| Layers | 2 |
| Context | 128 tokens |
"""
REPORT = {"architecture": "GPT2LMHeadModel", "model_type": "gpt2", "parameters": 141_056,
          "dtype": "float32 (safetensors, 1 file)", "context_length": 128, "vocab_size": 512, "size_bytes": 580_123,
          "load_seconds": 0.31, "sample": "def main():\n    return"}  # fmt: skip

ANONYMOUS = ["/", "/models", "/models?q=tiny", "/models?category=code&sort=cheapest", "/alice/tiny-gpt",
             "/alice/tiny-gpt/commits", "/compare?m=alice/tiny-gpt&m=mallory/tiny-but-pricey", "/alice", "/signup",
             "/login", "/password-reset", "/status", "/leaderboard", "/leaderboard?sort=speed", "/no/such-model"]  # fmt: skip
CONSUMER = ["/", "/alice/tiny-gpt", "/settings/keys", "/settings/wallet", "/settings/usage", "/settings/jobs",
            "/jobs/{job}", "/settings/notifications", "/alice/tiny-gpt/fine-tune", "/new/from-scratch"]  # fmt: skip
PROVIDER = ["/alice/tiny-gpt", "/alice/tiny-gpt/listing", "/alice/tiny-gpt/edit", "/alice/tiny-gpt/upload",
            "/alice/tiny-gpt/settings", "/settings/earnings", "/new"]  # fmt: skip
README_SHOTS = {("anonymous", "/models"): "readme-catalogue", ("anonymous", "/alice/tiny-gpt"): "readme-model-page"}
MODERATOR = ["/admin/", "/admin/marketplace/listing/", "/admin/marketplace/listing/{listing}/change/"]


def _store(provider, consumer, outsider, served_commit):
    """A store with something on every page: a listing with a card and a review, prices, a paid call, keys, a
    job with events, notifications, a second listing to compare."""
    card = registry.commit_card(model_id=served_commit.model_id, author=provider, content=CARD)
    Commit.objects.filter(pk=card.pk).update(validation_status="valid", validation_report=REPORT)
    listing = listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    listings.save_listing(model=served_commit.model, by=provider, title="Tiny GPT", category="code",
                          summary="A tiny GPT that writes Python-ish text.", tags=["tiny", "python"], license="mit")  # fmt: skip
    publish(outsider, "tiny-but-pricey", title="Tiny but pricey", prices=("50", "90"), tags=("tiny",))
    ledger.top_up(user=consumer, amount=25 * MICRO)
    _, _ = accounts.create_api_key(user=consumer, name="laptop", scopes=["infer", "read"])
    old, _ = accounts.create_api_key(user=consumer, name="old-ci-runner", scopes=["infer"])
    accounts.set_key_limits(user=consumer, key_id=old.pk, rpm_limit=30, tpm_limit=20_000, spend_limit=5 * MICRO,
                            spend_period="month")  # fmt: skip
    accounts.revoke_api_key(user=consumer, key_id=old.pk)
    granted = metering.authorize(user=consumer, api_key=ApiKey.objects.get(name="laptop"), model=served_commit.model,
                                 prompt_tokens=1200, max_tokens=800)  # fmt: skip
    metering.settle(request_id=granted.request_id, prompt_tokens=1200, completion_tokens=800)
    reviews.record_pull(model=served_commit.model, user=consumer)
    review = reviews.save_review(
        model=served_commit.model, user=consumer, rating=4, text="Fast and cheap; verse is odd."
    )
    reviews.reply(review_id=review.pk, by=provider, text="Thanks: a verse fine-tune is coming.")
    listing_stats.refresh_listing(listing)
    data = files.create_file(
        user=consumer, filename="poems.jsonl", purpose="fine-tune", data=b'{"text": "a poem"}\n' * 20
    )
    job = fine_tuning_job(owner=consumer, commit=served_commit, base_label="alice/tiny-gpt", data=data, seed=1, estimated_tokens=400,
                                       status="cancelled", finished_at=timezone.now(), total_steps=40, step=12,
                                       method={"type": "supervised", "supervised": {"hyperparameters": {}}})  # fmt: skip
    for message in ("Validating training file: poems.jsonl", "Fine-tuning started", "Step 12/40: training loss=2.81",
                    "Fine-tuning job cancelled by its owner"):  # fmt: skip
        JobEvent.objects.create(job=job, message=message)
    notifications.notify(user=consumer, kind="job", message="Fine-tuning job cancelled: 12 of 40 steps trained.",
                         link=f"/jobs/{job.public_id}")  # fmt: skip
    moderator = accounts.make_operator(user_id=accounts.create_user(username="olga", password=PASSWORD).pk)
    return {"job": job.public_id, "listing": listing.pk, "moderator": moderator}


def _slug(who: str, path: str) -> str:
    return f"walk-{who}-" + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home")[:60]


def test_every_page_looks_right_at_both_widths(page, live_server, provider, consumer, outsider, served_commit,
                                                settings, console_errors):  # fmt: skip
    settings.REVIEW_LISTINGS = False
    made = _store(provider, consumer, outsider, served_commit)
    base = live_server.url
    problems: dict[str, object] = {}

    def walk(who: str, paths: list[str]) -> None:
        for template in paths:
            path = template.format(**made)
            for width, suffix in ((1280, "desktop"), (390, "phone")):
                page.set_viewport_size({"width": width, "height": 900})
                console_errors.clear()
                answer = page.goto(f"{base}{path}")
                page.wait_for_load_state("networkidle")
                expected = 404 if path == "/no/such-model" else 200
                assert answer is not None and answer.status == expected, (path, answer and answer.status)
                page.screenshot(path=screenshot_path(f"{_slug(who, template)}-{suffix}"), full_page=True)
                if width == 1280 and (who, template) in README_SHOTS:  # the first screen, for docs/ and the README
                    page.screenshot(path=screenshot_path(README_SHOTS[who, template]))
                found: dict[str, object] = layout_problems(page)
                errors = [e for e in console_errors if not (expected == 404 and "404" in e)]
                if errors:
                    found["console errors"] = errors
                if found:
                    problems[f"{who} {path} at {width}px"] = found

    walk("anonymous", ANONYMOUS)
    log_in(page, base, "bob")
    walk("consumer", CONSUMER)
    page.context.clear_cookies()
    log_in(page, base, "alice")
    walk("provider", PROVIDER)
    page.context.clear_cookies()
    log_in(page, base, "olga")
    walk("moderator", MODERATOR)

    assert problems == {}, json.dumps(problems, indent=1)
