from django.core.management.base import BaseCommand, CommandError

from accounts import services
from core.exceptions import DomainError


class Command(BaseCommand):
    help = "Create a user (non-interactive). Its username is its namespace."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", required=True)
        parser.add_argument("--staff", action="store_true", help="an operator: signs in to /admin and moderates")

    def handle(self, *args, username, email, password, staff, **options):
        try:
            user = services.create_user(username=username, email=email, password=password)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if staff:
            services.make_operator(user_id=user.pk)
        self.stdout.write(f"created {'operator' if staff else 'user'} {user.username}")
