from django.urls import path

from marketplace.api import billing, payments

urlpatterns = [
    path("v1/credits", billing.CreditsView.as_view(), name="api-credits"),
    path("v1/usage", billing.UsageView.as_view(), name="api-usage"),
    path("payments/<slug:provider_name>/webhook", payments.PaymentWebhookView.as_view(), name="payment-webhook"),
]
