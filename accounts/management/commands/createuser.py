from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.exceptions import DomainError


class Command(BaseCommand):
    help = "Create a user (non-interactive). Its username is its namespace."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", required=True)

    def handle(self, *args, username, email, password, **options):
        try:
            user = services.create_user(username=username, email=email, password=password)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"created user {user.username}")
