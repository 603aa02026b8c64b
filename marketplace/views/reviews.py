"""Reviews, answers and reports from the model page (plain POST forms), and the compare page (a plain GET)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.exceptions import DomainError, InvalidInput
from marketplace.models import Listing
from marketplace.services import compare, reviews
from registry.exceptions import RepoNotFound
from registry.services import find_model


def _model(request, namespace: str, name: str):
    try:
        return find_model(namespace=namespace, name=name, user=request.user)
    except RepoNotFound:
        raise Http404("No such model") from None


def _back(model, anchor: str):
    return redirect(reverse("model-detail", args=[model.owner.username, model.name]) + anchor)


@login_required
@require_POST
def save_review(request, namespace: str, name: str):
    model = _model(request, namespace, name)
    try:
        reviews.save_review(model=model, user=request.user, rating=request.POST.get("rating", ""),
                            text=request.POST.get("text", ""))  # fmt: skip
    except DomainError as exc:
        messages.error(request, f"Your review was not saved: {exc.message}")
    else:
        messages.success(request, "Thank you: your review is saved.")
    return _back(model, "#reviews")


@login_required
@require_POST
def reply(request, namespace: str, name: str, review_id: int):
    model = _model(request, namespace, name)
    try:
        reviews.reply(review_id=review_id, by=request.user, text=request.POST.get("reply", ""))
    except DomainError as exc:
        messages.error(request, f"Your answer was not saved: {exc.message}")
    else:
        messages.success(request, "Your answer is published under the review.")
    return _back(model, "#reviews")


@login_required
@require_POST
def report(request, namespace: str, name: str):
    model = _model(request, namespace, name)
    listing = Listing.objects.published().filter(model=model).first()
    if listing is None:
        raise Http404("No such listing")
    try:
        reviews.report_listing(listing=listing, by=request.user, reason=request.POST.get("reason", ""),
                               text=request.POST.get("text", ""))  # fmt: skip
    except DomainError as exc:
        messages.error(request, f"Your report was not sent: {exc.message}")
    else:
        messages.success(request, "Thank you: the moderators will look at your report.")
    return _back(model, "#report")


@require_GET
def compare_page(request):
    status, error, rows = 200, None, []
    try:
        rows = compare.compare(request.GET.getlist("m"))
    except InvalidInput as exc:
        status, error = 400, exc
    return render(request, "marketplace/compare.html", {"rows": rows, "error": error}, status=status)
