"""Reviews, answers and reports from the model page (plain POST forms), and the compare page (a plain GET)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import DomainError, InvalidInput
from marketplace.models import Listing
from marketplace.services import compare, reviews
from registry.exceptions import RepoNotFound
from registry.services import find_model


def _model(request, namespace: str, name: str):
    try:
        return find_model(namespace=namespace, name=name, user=request.user)
    except RepoNotFound:
        raise Http404("No such model") from None


def _act(request, model, anchor: str, action, *, done: str, failed: str):
    """Run `action` (a service call), say how it went, and go back to the model page at `anchor`."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, f"{failed}: {exc.message}")
    else:
        messages.success(request, done)
    return redirect(reverse("model-detail", args=[model.owner.username, model.name]) + anchor)


@login_required
@require_POST
def save_review(request, namespace: str, name: str):
    model = _model(request, namespace, name)
    return _act(request, model, "#reviews", lambda: reviews.save_review(
        model=model, user=request.user, rating=request.POST.get("rating", ""), text=request.POST.get("text", "")),
        done="Thank you: your review is saved.", failed="Your review was not saved")  # fmt: skip


@login_required
@require_POST
def reply(request, namespace: str, name: str, review_id: int):
    model = _model(request, namespace, name)
    return _act(request, model, "#reviews", lambda: reviews.reply(
        review_id=review_id, by=request.user, text=request.POST.get("reply", "")),
        done="Your answer is published under the review.", failed="Your answer was not saved")  # fmt: skip


@login_required
@require_POST
def report(request, namespace: str, name: str):
    model = _model(request, namespace, name)
    listing = Listing.objects.published().filter(model=model).first()
    if listing is None:
        raise Http404("No such listing")
    return _act(request, model, "#report", lambda: reviews.report_listing(
        listing=listing, by=request.user, reason=request.POST.get("reason", ""), text=request.POST.get("text", "")),
        done="Thank you: the moderators will look at your report.", failed="Your report was not sent")  # fmt: skip


@require_GET
def compare_page(request):
    status, error, rows = 200, None, []
    try:
        rows = compare.compare(request.GET.getlist("m"))
    except InvalidInput as exc:
        status, error = 400, exc
    return render(request, "marketplace/compare.html", {"rows": rows, "error": error}, status=status)
