from django.urls import path, re_path

from marketplace.views import catalogue, key_limits, provider, reviews, wallet
from registry.api.urls import NAME, NS

urlpatterns = [
    path("", catalogue.home, name="home"),
    path("models", catalogue.models, name="catalogue"),
    path("search", catalogue.search, name="search"),
    path("compare", reviews.compare_page, name="compare"),
    re_path(rf"^{NS}/{NAME}/reviews$", reviews.save_review, name="review-save"),
    re_path(rf"^{NS}/{NAME}/reviews/(?P<review_id>[0-9]+)/reply$", reviews.reply, name="review-reply"),
    re_path(rf"^{NS}/{NAME}/report$", reviews.report, name="listing-report"),
    path("settings/keys/<int:key_id>/limits", key_limits.key_limits, name="key-limits"),
    path("settings/wallet", wallet.wallet, name="wallet"),
    path("settings/usage", wallet.usage, name="usage"),
    path("settings/usage.csv", wallet.usage_csv, name="usage-csv"),
    path("settings/earnings", provider.earnings, name="earnings"),
    re_path(rf"^{NS}/{NAME}/listing$", provider.edit_listing, name="listing-edit"),
    re_path(rf"^{NS}/{NAME}/listing/publish$", provider.publish_listing, name="listing-publish"),
]

# /{namespace} matches any single segment, so config.urls puts it after every other page
profile_urlpatterns = [re_path(rf"^{NS}$", catalogue.provider_profile, name="provider")]
