"""Payment provider webhooks. Authenticated by the provider's signature, not by a user."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import payments
from marketplace.money import format_credits


class PaymentWebhookResultSerializer(serializers.Serializer):
    payment_id = serializers.CharField()
    amount = serializers.CharField()
    credited = serializers.BooleanField(help_text="False when this payment id had been credited before.")


class PaymentWebhookView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses=PaymentWebhookResultSerializer)
    def post(self, request, provider_name: str):
        result = payments.confirm_from_webhook(
            provider_name=provider_name, body=request.body, signature=request.headers.get("X-Signature", "")
        )
        return Response(
            {
                "payment_id": result.payment.payment_id,
                "amount": format_credits(result.payment.amount),
                "credited": result.newly_credited,
            }
        )
