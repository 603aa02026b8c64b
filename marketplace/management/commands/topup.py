from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from core.exceptions import DomainError
from marketplace.money import format_credits
from marketplace.services import ledger


class Command(BaseCommand):
    help = "Add credits to a user's wallet (an operator's top-up, recorded in the ledger)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("amount", help="credits, e.g. 25 or 0.5")
        parser.add_argument("--memo", default="operator top-up")

    def handle(self, *args, username, amount, memo, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        try:
            posted = ledger.top_up(user=user, amount=ledger.parse_amount(amount), memo=memo)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        balance = ledger.credit_summary(user=user).balance
        self.stdout.write(f"transaction {posted.pk}: {username} now holds {format_credits(balance)} credits")
