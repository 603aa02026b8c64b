"""The one callability rule (marketplace.services.offers) and its SQL copy (charge_pg.AUTHORIZE_PG) give the same
answer: which commit a caller may call, at what price, or a refusal. Each case also states the answer expected,
so the two cannot agree on a wrong one."""

import pytest
from django.db import transaction
from django.utils import timezone

from core.exceptions import InvalidInput
from marketplace.exceptions import ModelNotFound
from marketplace.models import Listing, ListingStatus
from marketplace.services import charge_pg, listings, offers
from registry import services as registry
from registry.models import Commit, Ref, RefKind, ValidationStatus
from tests.conftest import record_evaluation
from tests.marketplace.conftest import add_commit

PRICES = {"prompt_price": "2", "completion_price": "6"}  # credits per 1M tokens, as micro-credits below
PROMPT, COMPLETION = 2_000_000, 6_000_000


class World:
    """One provider's models, built once per test: each case names a caller, a model and a revision."""

    def __init__(self, provider, settings):
        settings.REVIEW_LISTINGS = False
        self.provider = provider
        self.listed = registry.create_model(owner=provider, name="listed")
        self.first = add_commit(self.listed, message="first")
        self.second = add_commit(self.listed, parent=self.first, message="second")
        self.broken = add_commit(self.listed, parent=self.second, status=ValidationStatus.INVALID, message="broken")
        Ref.objects.create(model=self.listed, kind=RefKind.TAG, name="v1", commit=self.first)
        self.dev_head = Commit.objects.create(model=self.listed, sha="d" * 40, parent=self.first, message="dev",
                                              author=provider, validation_status=ValidationStatus.VALID)  # fmt: skip
        Ref.objects.create(model=self.listed, kind=RefKind.BRANCH, name="dev", commit=self.dev_head)
        record_evaluation(self.dev_head)
        self.pending = Commit.objects.create(model=self.listed, sha="e" * 40, parent=self.first, message="wip",
                                             author=provider, validation_status=ValidationStatus.PENDING)  # fmt: skip
        self.listing = listings.publish_now(model=self.listed, title="Listed", revision="v1", is_downloadable=True,
                                            download_price="0.5", **PRICES)  # fmt: skip

        self.unlisted = registry.create_model(owner=provider, name="unlisted")
        self.unlisted_head = add_commit(self.unlisted, message="own")
        self.private = registry.create_model(owner=provider, name="private")
        self.private_head = add_commit(self.private, message="secret")
        listings.publish_now(model=self.private, title="Private", **PRICES)
        registry.set_visibility(model_id=self.private.pk, is_private=True)
        self.suspended = registry.create_model(owner=provider, name="suspended")
        self.suspended_head = add_commit(self.suspended, message="s")
        suspended = listings.publish_now(model=self.suspended, title="Suspended", **PRICES)
        listings.review_listing(listing_id=suspended.pk, approve=False, reason="spam")
        self.call_only = registry.create_model(owner=provider, name="call-only")
        self.call_only_head = add_commit(self.call_only, message="c")
        listings.publish_now(model=self.call_only, title="Call only", is_downloadable=False, **PRICES)
        self.draft = registry.create_model(owner=provider, name="draft")
        self.draft_head = add_commit(self.draft, message="draft")
        self.draft_dev = Commit.objects.create(model=self.draft, sha="f" * 40, parent=self.draft_head, message="fd",
                                               author=provider, validation_status=ValidationStatus.VALID)  # fmt: skip
        Ref.objects.create(model=self.draft, kind=RefKind.BRANCH, name="dev", commit=self.draft_dev)
        record_evaluation(self.draft_dev)
        draft = listings.publish_now(model=self.draft, title="Draft", revision="dev", **PRICES)
        listings.unpublish_listing(listing_id=draft.pk, by=provider)


# (case, caller, model, revision, expected): expected is (commit attribute, priced) or the refusal
CASES = [
    ("owner, no revision: the listing's tag, free", "owner", "listed", None, ("first", False)),
    (
        "owner pins a branch whose head is invalid: its newest valid commit",
        "owner",
        "listed",
        "main",
        ("second", False),
    ),
    ("owner pins an unlisted commit by its full sha", "owner", "listed", "dev_head.sha", ("dev_head", False)),
    ("owner pins a commit by an abbreviated sha", "owner", "listed", "second.sha[:10]", ("second", False)),
    ("owner pins a pending commit: not servable", "owner", "listed", "pending.sha", "not_servable"),
    ("owner pins the invalid head by sha: not servable", "owner", "listed", "broken.sha", "not_servable"),
    ("owner, unlisted model, no revision: main", "owner", "unlisted", None, ("unlisted_head", False)),
    ("owner of a private model", "owner", "private", None, ("private_head", False)),
    ("owner of a suspended listing", "owner", "suspended", None, ("suspended_head", False)),
    ("owner of a draft listing: its revision", "owner", "draft", None, ("draft_dev", False)),
    ("consumer, no revision: the listed tag, at the listing's price", "consumer", "listed", None, ("first", True)),
    ("consumer pins the listed tag", "consumer", "listed", "v1", ("first", True)),
    ("consumer pins a branch with an invalid head", "consumer", "listed", "main", ("second", True)),
    ("consumer pins another branch", "consumer", "listed", "dev", ("dev_head", True)),
    ("consumer pins an unlisted commit of a listed model", "consumer", "listed", "dev_head.sha", ("dev_head", True)),
    ("consumer pins an abbreviated sha", "consumer", "listed", "second.sha[:7]", ("second", True)),
    ("consumer pins an invalid commit", "consumer", "listed", "broken.sha", "not_servable"),
    ("consumer pins a revision that does not exist", "consumer", "listed", "nope", "not_found"),
    ("consumer, unlisted model", "consumer", "unlisted", None, "not_found"),
    ("consumer, private model with a published listing", "consumer", "private", None, "not_found"),
    ("consumer, suspended listing", "consumer", "suspended", None, "not_found"),
    ("consumer, draft listing", "consumer", "draft", None, "not_found"),
    ("consumer, call-only listing: callable", "consumer", "call-only", None, ("call_only_head", True)),
]


def _revision(world: World, spec: str | None) -> str | None:
    if spec is None or "." not in spec:
        return spec
    name, _, rest = spec.partition(".")
    sha = getattr(world, name).sha
    return sha[: int(rest[len("sha[:") : -1])] if rest.startswith("sha[:") else sha


def _model(world: World, name: str):
    return {"listed": world.listed, "unlisted": world.unlisted, "private": world.private,
            "suspended": world.suspended, "call-only": world.call_only, "draft": world.draft}[name]  # fmt: skip


def _python_answer(user, model, revision):
    try:
        offer = offers.resolve_offer(user=user, model=model, revision=revision)
    except ModelNotFound:
        return "not_found"
    except offers.NotServable:
        return "not_servable"
    return offer.commit.sha, offer.prompt_price, offer.completion_price


def _sql_answer(user, model, revision):
    """AUTHORIZE_PG's answer, in a transaction that is rolled back: the commit and prices, or "refused"."""
    now = timezone.now()
    params = {"request_id": "req_matrix", "user_id": user.pk, "api_key_id": None, "model_id": model.pk,
              "model_label": model.repo_id, "reserved_tokens": 2, "created_at": now, "expires_at": now,
              "prompt_tokens": 1, "max_tokens": 1, "spend_key": "", "revision": revision}  # fmt: skip
    with transaction.atomic():
        row = charge_pg.authorize_pg(params)
        transaction.set_rollback(True)
    if row["max_cost"] is None:
        return "refused"
    return row["commit_sha"], row["prompt_price"], row["completion_price"]


@pytest.mark.parametrize(("case", "caller", "model_name", "revision", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_rule_and_its_sql_copy_agree(provider, consumer, settings, case, caller, model_name, revision, expected):
    world = World(provider, settings)
    user = provider if caller == "owner" else consumer
    model, revision = _model(world, model_name), _revision(world, revision)

    python = _python_answer(user, model, revision)
    sql = _sql_answer(user, model, revision)

    if isinstance(expected, str):
        assert (python, sql) == (expected, "refused")
    else:
        attribute, priced = expected
        prices = (PROMPT, COMPLETION) if priced else (0, 0)
        assert python == sql == (getattr(world, attribute).sha, *prices)


def test_a_listing_cannot_be_published_at_a_revision_the_rule_would_not_serve(provider, settings):
    world = World(provider, settings)
    for revision, message in (("main", None), ("dev", None), (world.broken.sha, "is invalid"),
                              (world.pending.sha, "is pending"), ("nope", "does not exist")):  # fmt: skip
        if message is None:
            assert listings.publish_now(model=world.listed, revision=revision, **PRICES).revision == revision
        else:
            with pytest.raises(InvalidInput, match=message):
                listings.publish_now(model=world.listed, revision=revision, **PRICES)
            assert Listing.objects.get(model=world.listed).revision == "dev"  # nothing changed
    assert Listing.objects.get(model=world.listed).status == ListingStatus.PUBLISHED


@pytest.mark.parametrize(
    ("caller", "model_name", "expected"),
    [("owner", "call-only", 0), ("consumer", "call-only", None), ("owner", "listed", 0), ("consumer", "listed", 500_000), ("anonymous", "listed", 500_000),
     ("consumer", "unlisted", 0), ("anonymous", "unlisted", 0)],
)  # fmt: skip
def test_who_may_pull_weights_and_at_what_price(provider, consumer, settings, caller, model_name, expected):
    world = World(provider, settings)
    user = {"owner": provider, "consumer": consumer, "anonymous": None}[caller]
    assert offers.download_price(model=_model(world, model_name), user=user) == expected
