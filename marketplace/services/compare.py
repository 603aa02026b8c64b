"""Compare 2-4 published listings side by side, by the figures the store measured and their terms."""

from django.db.models import Case, IntegerField, Value, When

from core.exceptions import InvalidInput
from marketplace.models import Listing

MIN_MODELS, MAX_MODELS = 2, 4


def compare(repo_ids: list[str]) -> list[Listing]:
    """The published listings of `repo_ids` ('owner/name', comma-separated or repeated), in the order given."""
    wanted = list(dict.fromkeys(part.strip() for item in repo_ids for part in item.split(",") if part.strip()))
    if not MIN_MODELS <= len(wanted) <= MAX_MODELS:
        raise InvalidInput(f"choose {MIN_MODELS} to {MAX_MODELS} models to compare", param="m")
    pairs = []
    for repo_id in wanted:
        owner, _, name = repo_id.partition("/")
        if not owner or not name or "\x00" in repo_id or len(repo_id) > 200:
            raise InvalidInput(f"'{repo_id[:200]}' is not owner/name", param="m")
        pairs.append((owner, name))
    order = Case(*[When(model__owner__username=owner, model__name=name, then=Value(index))
                   for index, (owner, name) in enumerate(pairs)], output_field=IntegerField())  # fmt: skip
    found = list(
        Listing.objects.published().filter(model__owner__username__in=[owner for owner, _ in pairs],
                                           model__name__in=[name for _, name in pairs])
        .annotate(position=order).exclude(position=None).order_by("position")
        .select_related("model__owner", "price_card", "stats")
    )  # fmt: skip
    missing = [repo_id for repo_id in wanted if repo_id not in {listing.model.repo_id for listing in found}]
    if missing:
        raise InvalidInput(f"not in the store: {', '.join(missing)}", param="m")
    return found
