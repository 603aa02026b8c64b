"""Operator screens. Listing review and payouts go through the services, like every other change; the ledger
is read-only here (a correction is a new transaction, never an edit)."""

from django import forms
from django.contrib import admin, messages

from core.exceptions import DomainError
from marketplace.models import (
    Account,
    LedgerEntry,
    LedgerTransaction,
    Listing,
    ListingReport,
    ListingStatus,
    Payment,
    Payout,
    PayoutStatus,
    PriceCard,
    ReportStatus,
    Review,
    UsageRecord,
)
from marketplace.money import format_credits
from marketplace.services import ledger, listings, reviews


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReviewForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[("", "keep the status"), ("approve", "approve and publish"), ("suspend", "suspend")], required=False
    )

    class Meta:
        model = Listing
        fields = ["featured", "review_note"]


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    """Review: pick a decision; a suspension needs the note, which the provider sees on the listing page."""

    form = ReviewForm
    list_display = ["title", "model", "status", "featured", "category", "price", "open_reports", "updated_at"]
    list_filter = ["status", "featured", "category"]
    search_fields = ["title", "model__name", "model__owner__username"]
    readonly_fields = ["model", "title", "summary", "category", "tags", "license", "is_downloadable", "revision",
                       "status", "price_card", "published_at"]  # fmt: skip
    fields = [*readonly_fields, "featured", "review_note", "decision"]
    actions = ["approve"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="open reports")
    def open_reports(self, listing):
        return listing.reports.filter(status=ReportStatus.OPEN).count()

    @admin.display(description="price")
    def price(self, listing):
        return listings.describe_price(listing.price_card)

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        Listing.objects.filter(pk=obj.pk).update(featured=obj.featured)
        if not decision:
            Listing.objects.filter(pk=obj.pk).update(review_note=obj.review_note)
            return
        try:
            listings.review_listing(
                listing_id=obj.pk, approve=decision == "approve", reason=obj.review_note, by=request.user
            )
        except DomainError as exc:
            self.message_user(request, f"Not changed: {exc.message}", level=messages.ERROR)
        else:
            done = "approved and published" if decision == "approve" else "suspended"
            self.message_user(request, f"{obj} is {done}; its provider is told.", level=messages.SUCCESS)

    @admin.action(description="Approve and publish the selected listings")
    def approve(self, request, queryset):
        approved = 0
        for listing in queryset.exclude(status=ListingStatus.PUBLISHED):
            try:
                listings.review_listing(listing_id=listing.pk, approve=True, by=request.user)
                approved += 1
            except DomainError as exc:
                self.message_user(request, f"{listing}: {exc.message}", level=messages.ERROR)
        if approved:
            self.message_user(request, f"{approved} listing{'s' if approved != 1 else ''} approved and published; "
                              "their providers are told.", level=messages.SUCCESS)  # fmt: skip


class ReportForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[
            ("", "leave open"),
            ("suspend", "suspend the listing (the note is the reason)"),
            ("dismiss", "dismiss"),
        ],
        required=False,
    )

    class Meta:
        model = ListingReport
        fields = ["resolution"]


@admin.register(ListingReport)
class ListingReportAdmin(admin.ModelAdmin):
    """The moderators' queue: open reports first. Suspending needs a note, which the provider sees."""

    form = ReportForm
    list_display = ["pk", "listing", "reason", "reporter", "status", "created_at"]
    list_filter = ["status", "reason"]
    search_fields = ["listing__title", "listing__model__name", "listing__model__owner__username", "text"]
    readonly_fields = ["listing", "reporter", "reason", "text", "status", "resolved_by", "resolved_at", "created_at"]
    fields = [*readonly_fields, "resolution", "decision"]
    ordering = ["status", "-created_at"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        if not decision:
            ListingReport.objects.filter(pk=obj.pk).update(resolution=obj.resolution)
            return
        try:
            reviews.resolve_report(report_id=obj.pk, by=request.user, suspend=decision == "suspend",
                                   note=obj.resolution)  # fmt: skip
        except DomainError as exc:
            self.message_user(request, f"Not changed: {exc.message}", level=messages.ERROR)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Reviews can be read and, when abusive, deleted; never rewritten by an operator."""

    list_display = ["model", "user", "rating", "updated_at", "replied_at"]
    list_filter = ["rating"]
    search_fields = ["model__name", "user__username", "text"]
    readonly_fields = ["model", "user", "rating", "text", "commit_sha", "reply", "replied_at", "created_at",
                       "updated_at"]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        reviews.update_rating(obj.model)

    def delete_queryset(self, request, queryset):
        models = {review.model for review in queryset.select_related("model")}
        super().delete_queryset(request, queryset)
        for model in models:
            reviews.update_rating(model)


@admin.register(PriceCard)
class PriceCardAdmin(ReadOnlyAdmin):
    list_display = ["listing", "prompt_price", "completion_price", "download_price", "created_at"]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ["pk", "user", "amount_credits", "status", "requested_at", "paid_at", "reference"]
    list_filter = ["status"]
    actions = ["mark_paid"]

    @admin.display(description="amount")
    def amount_credits(self, payout):
        return format_credits(payout.amount)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser  # actions need it; the form itself has no editable field

    @admin.action(description="Mark the selected payouts as paid")
    def mark_paid(self, request, queryset):
        for payout in queryset.filter(status=PayoutStatus.REQUESTED):
            ledger.mark_payout_paid(payout_id=payout.pk, reference=f"marked paid by {request.user}", by=request.user)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Payout._meta.fields]


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["account", "amount"]
    readonly_fields = ["account", "amount"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["pk", "kind", "memo", "created_at", "created_by"]
    list_filter = ["kind"]
    inlines = [LedgerEntryInline]
    actions = ["refund"]

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and obj is None  # the refund action, never an edit

    @admin.action(description="Refund the selected charges or top-ups (a reversing transaction each)")
    def refund(self, request, queryset):
        for posted in queryset:
            try:
                ledger.reverse_transaction(transaction_id=posted.pk, by=request.user)
            except DomainError as exc:
                self.message_user(request, f"#{posted.pk}: {exc.message}", level=messages.ERROR)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["pk", "kind", "user", "balance", "held"]
    list_filter = ["kind"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["provider", "payment_id", "user", "amount", "status", "created_at"]


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ["request_id", "user", "model_label", "prompt_tokens", "completion_tokens", "cost", "status"]
    list_filter = ["status"]
