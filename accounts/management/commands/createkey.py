import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import services
from accounts.models import User
from core.exceptions import DomainError


class Command(BaseCommand):
    help = "Create an API key for a user and print it alone on the last line (it is not stored in clear)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--scopes", required=True, help="comma-separated: read,write,infer,finetune")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, username, scopes, name, expires_in_days, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        expires_at = None
        if expires_in_days is not None:
            if expires_in_days <= 0:
                raise CommandError("--expires-in-days must be positive")
            expires_at = timezone.now() + dt.timedelta(days=expires_in_days)
        try:
            api_key, secret = services.create_api_key(
                user=user, name=name, scopes=services.parse_scopes(scopes), expires_at=expires_at
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"created key {api_key.prefix}… ({', '.join(api_key.scopes)}) for {user.username}")
        self.stdout.write(secret)
