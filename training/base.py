"""What a fine-tune may start from: a model the caller may pull, at a valid revision (or nothing: `scratch`)."""

from accounts.models import User
from marketplace.exceptions import ModelNotFound
from marketplace.services import offers
from registry.exceptions import GatedRepo, RevisionNotFound
from registry.models import Commit, Model

SCRATCH = "scratch"


def fine_tunable_base(*, user: User, model_id: str) -> tuple[Model, Commit]:
    """The base the caller may fine-tune: one they may pull (their own, a public model without a listing, or a
    listing that lets them download the weights), at a valid revision."""
    name, _, revision = model_id.partition("@")
    owner, _, short = name.partition("/")
    base = Model.objects.visible_to(user).filter(owner__username=owner, name=short).first() if short else None
    if base is None:
        raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have access to it.", param="model")
    if offers.download_price(model=base, user=user) is None:
        raise GatedRepo(f"{base.repo_id} is offered for calls only: its weights cannot be fine-tuned", param="model")
    try:
        commit = offers.servable_commit(model=base, revision=revision or "main")
    except RevisionNotFound:
        raise ModelNotFound(f"The model '{base.repo_id}' has no revision '{revision}'.", param="model") from None
    return base, commit
