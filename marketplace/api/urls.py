from django.urls import path

from marketplace.api import billing, listings, payments

urlpatterns = [
    path("v1/credits", billing.CreditsView.as_view(), name="api-credits"),
    path("v1/usage", billing.UsageView.as_view(), name="api-usage"),
    path("v1/listings", listings.ListingsView.as_view(), name="api-listings"),
    path("v1/earnings", billing.EarningsView.as_view(), name="api-earnings"),
    path("payments/<slug:provider_name>/webhook", payments.PaymentWebhookView.as_view(), name="payment-webhook"),
]
