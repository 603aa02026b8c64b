from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from marketplace.services import listings
from registry.models import Model


class Command(BaseCommand):
    help = "Create or update a model's listing with a price card and publish it, skipping review (operators)."

    def add_arguments(self, parser):
        parser.add_argument("repo_id", help="OWNER/NAME")
        parser.add_argument("--prompt-price", required=True, help="credits per 1M prompt tokens (0: free)")
        parser.add_argument("--completion-price", required=True, help="credits per 1M completion tokens (0: free)")
        parser.add_argument("--download-price", default="0", help="credits per download of the weights")
        parser.add_argument("--revision", default=None, help="a branch (default main), tag or commit sha")
        parser.add_argument("--title", default=None)
        parser.add_argument("--downloadable", action="store_true", help="let consumers download the weights")

    def handle(self, *args, repo_id, prompt_price, completion_price, download_price, revision, title, downloadable,
               **options):  # fmt: skip
        owner, _, name = repo_id.partition("/")
        model = Model.objects.by_id(owner, name).select_related("owner").first()
        if model is None:
            raise CommandError(f"no model {repo_id!r}")
        try:
            listing = listings.publish_now(
                model=model,
                prompt_price=prompt_price,
                completion_price=completion_price,
                download_price=download_price,
                revision=revision,
                is_downloadable=downloadable or None,
                title=title,
            )
            commit = listings.served_commit(listing=listing)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"published {repo_id} at {commit.sha[:12]} ({listing.revision}): {listings.describe_price(listing.price_card)}"
        )
