"""Payment providers turn money into credits. The store talks to them through one small interface; the
built-in `test` provider calls nothing outside and confirms every checkout at once, so a whole store works on
one machine. A real provider (Stripe, ...) implements the same two methods and confirms through its webhook.

Whatever the provider, a payment id credits the wallet at most once (`ledger.record_payment`)."""

import dataclasses
import hashlib
import hmac
import json
import secrets

from django.conf import settings

from accounts.models import User
from core.exceptions import InvalidInput, NotAuthenticated, NotFound
from marketplace.services import ledger


@dataclasses.dataclass(frozen=True)
class Checkout:
    payment_id: str
    amount: int
    redirect_url: str | None  # where to send the buyer; None when the payment is already confirmed


class PaymentProvider:
    name = ""

    def start_checkout(self, *, user: User, amount: int) -> Checkout:
        raise NotImplementedError

    def parse_webhook(self, *, body: bytes, signature: str) -> dict:
        """Verify and decode a provider's notification: {"payment_id", "username", "amount"}."""
        raise NotImplementedError


class TestPaymentProvider(PaymentProvider):
    """Confirms every checkout immediately. Its webhook (used by tests and by anyone scripting top-ups against a
    test install) is signed with HMAC-SHA256 of the body under the install's SECRET_KEY."""

    name = "test"

    def start_checkout(self, *, user: User, amount: int) -> Checkout:
        payment_id = f"test_{secrets.token_hex(12)}"
        ledger.record_payment(provider=self.name, payment_id=payment_id, user=user, amount=amount)
        return Checkout(payment_id=payment_id, amount=amount, redirect_url=None)

    @staticmethod
    def sign(body: bytes) -> str:
        return hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()

    def parse_webhook(self, *, body: bytes, signature: str) -> dict:
        if not hmac.compare_digest(self.sign(body), signature or ""):
            raise NotAuthenticated("bad webhook signature")
        try:
            event = json.loads(body)
            return {
                "payment_id": str(event["payment_id"]),
                "username": str(event["username"]),
                "amount": event["amount"],
            }
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("webhook body must be JSON with payment_id, username and amount") from None


PROVIDERS = {TestPaymentProvider.name: TestPaymentProvider}


def provider() -> PaymentProvider:
    return PROVIDERS[settings.PAYMENT_PROVIDER]()


def confirm_from_webhook(*, provider_name: str, body: bytes, signature: str) -> ledger.PaymentResult:
    """Credit the payment a provider's webhook reports. Replays of the same payment id change nothing."""
    if provider_name not in PROVIDERS:
        raise NotFound(f"unknown payment provider {provider_name!r}")
    event = PROVIDERS[provider_name]().parse_webhook(body=body, signature=signature)
    user = User.objects.filter(username=event["username"]).first()
    if user is None:
        raise InvalidInput(f"no user {event['username']!r}", param="username")
    amount = ledger.parse_amount(event["amount"])
    return ledger.record_payment(provider=provider_name, payment_id=event["payment_id"], user=user, amount=amount)
