"""Who may call or pull which model, which commit, at what price: the store's one rule, used by the gateway,
metering, downloads and the pages.

    caller          model                                      may call                          price
    its owner       any of theirs, private or not              any servable revision             free
    anyone else     public, with a published listing           the default revision, or any      the listing's price card
                                                               servable revision they pin
    anyone else     anything else                              nothing: ModelNotFound (a private model is never confirmed)

Which commit a revision serves is decided the same way everywhere (`servable_commit`):
- no revision: the model's listing's revision (whatever the listing's state), or `main` without a listing;
- a branch serves its newest valid commit: its head, or, while the head is pending, validating or invalid, the
  nearest valid ancestor at most BRANCH_WALK_LIMIT commits back, so a push that fails validation never takes a
  served model down;
- a tag, or a full or abbreviated (>= 7 hex) sha, serves that commit only if it is valid.

charge_pg.AUTHORIZE_PG is this rule's SQL copy (it authorizes a call in one statement on PostgreSQL);
tests/marketplace/test_callability.py runs a matrix of cases through both and asserts the same answers.

Pulling weights (download_price; configs, tokenizers and cards are never withheld):

    its owner                                  always, free
    no store listing                           anyone who can see the model (a public repository), free
    a listing that offers calls only           nobody else (downloads.grant_weights: 403 GatedRepo)
    a downloadable listing                     anyone who can see the model, at its price card's download price
"""

import dataclasses

from django.db.models import Exists, OuterRef, Q

from accounts.models import User
from core.exceptions import InvalidInput
from marketplace.exceptions import ModelNotFound
from marketplace.models import Listing, ListingStatus, PriceCard
from registry.exceptions import RevisionNotFound
from registry.models import Commit, Model, Ref, RefKind, ValidationStatus
from registry.services import resolve_revision

BRANCH_WALK_LIMIT = 100
DEFAULT_REVISION = "main"


class NotServable(InvalidInput):
    """The revision exists but has no valid commit to serve. `status`: the named commit's validation status, or
    None for a branch with no valid commit within reach."""

    def __init__(self, message: str, *, status: str | None):
        super().__init__(message, param="model")
        self.status = status


@dataclasses.dataclass(frozen=True)
class Offer:
    """A call `user` may make: the commit it runs and the prices it pays (micro-credits per 1M tokens)."""

    model: Model
    commit: Commit
    listing: Listing | None  # the model's listing when it is published (calls through it are the provider's sales)
    price_card: PriceCard | None  # None: free (the owner calls their own model)

    @property
    def prompt_price(self) -> int:
        return self.price_card.prompt_price if self.price_card is not None else 0

    @property
    def completion_price(self) -> int:
        return self.price_card.completion_price if self.price_card is not None else 0


def servable_commit(*, model: Model, revision: str) -> Commit:
    """The commit `revision` serves (see the module's docstring), or RevisionNotFound / NotServable."""
    branch = Ref.objects.filter(model=model, kind=RefKind.BRANCH, name=revision).select_related("commit").first()
    if branch is not None:
        walked: Commit | None = branch.commit
        for _ in range(BRANCH_WALK_LIMIT):
            if walked is None or walked.validation_status == ValidationStatus.VALID:
                break
            walked = walked.parent
        if walked is None or walked.validation_status != ValidationStatus.VALID:
            raise NotServable(f"branch '{revision}' of '{model.repo_id}' has no valid commit to serve", status=None)
        return walked
    commit = resolve_revision(model=model, revision=revision)
    if commit.validation_status != ValidationStatus.VALID:
        raise NotServable(
            f"revision {commit.sha[:12]} of '{model.repo_id}' is {commit.validation_status}, not servable",
            status=commit.validation_status,
        )
    return commit


def resolve_offer(*, user: User, model: Model, revision: str | None = None) -> Offer:
    """May `user` call `model` (at `revision`; None: the default), which commit, at what price. Raises
    ModelNotFound (not theirs and not published, or no such revision) or NotServable (nothing valid to serve)."""
    listing = Listing.objects.filter(model=model).select_related("price_card", "model").first()
    is_owner = model.owner_id == user.pk
    live = listing is not None and listing.status == ListingStatus.PUBLISHED and not listing.model.is_private
    published = listing if live else None
    if not is_owner and published is None:
        raise ModelNotFound(
            f"The model '{model.repo_id}' does not exist or you do not have access to it.", param="model"
        )
    wanted = revision or (listing.revision if listing is not None else DEFAULT_REVISION)
    try:
        commit = servable_commit(model=model, revision=wanted)
    except RevisionNotFound:
        raise ModelNotFound(f"The model '{model.repo_id}' has no revision '{wanted}'.", param="model") from None
    price_card = None if is_owner or published is None else published.price_card
    return Offer(model=model, commit=commit, listing=published, price_card=price_card)


def callable_models(user: User):
    """The models `user` may call, as /v1/models lists them: published listings' models and the caller's own
    models that hold a valid commit."""
    has_valid = Exists(Commit.objects.filter(model=OuterRef("pk"), validation_status=ValidationStatus.VALID))
    published = Listing.objects.published().filter(model=OuterRef("pk"))
    return (
        Model.objects.filter(Q(Exists(published)) | (Q(owner=user) & has_valid))
        .select_related("owner", "listing__price_card", "listing__stats")
        .order_by("owner__username", "name")
    )


def download_price(*, model: Model, user: User | None) -> int | None:
    """Micro-credits `user` (None: anonymous) pays to download this model's weights, or None if they may not."""
    listing = Listing.objects.filter(model=model).select_related("price_card").first()
    return weights_price(model=model, listing=listing, user=user)


def weights_price(*, model: Model, listing: Listing | None, user: User | None) -> int | None:
    """download_price with the model's listing (or None) already in hand."""
    if user is not None and user.is_authenticated and user.pk == model.owner_id:
        return 0
    if listing is None:
        return 0
    if not listing.is_downloadable:
        return None
    return listing.price_card.download_price if listing.price_card is not None else 0
