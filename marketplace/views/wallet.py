"""Consumer pages: the wallet (balance, top-up, transactions) and usage (chart, table, CSV)."""

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import ApiKey
from core.exceptions import DomainError
from marketplace import payments
from marketplace.forms import TopUpForm
from marketplace.models import AccountKind, LedgerEntry
from marketplace.money import MICRO, format_credits, short_credits
from marketplace.services import ledger, reports
from marketplace.views.charts import daily_chart


@login_required
@require_http_methods(["GET", "POST"])
def wallet(request):
    form = TopUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            checkout = payments.provider().start_checkout(user=request.user, amount=form.cleaned_data["amount"])
        except DomainError as exc:
            form.add_error("amount", exc.message)
        else:
            if checkout.redirect_url:
                return redirect(checkout.redirect_url)
            messages.success(
                request, f"Added {short_credits(checkout.amount)} credits (payment {checkout.payment_id})."
            )
            return redirect("wallet")
    summary = ledger.credit_summary(user=request.user)
    account = ledger.account_for(request.user.pk, AccountKind.WALLET)
    entries = LedgerEntry.objects.filter(account=account).select_related("transaction").order_by("-id")
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {"form": form, "summary": summary, "page": page, "provider": payments.provider().name}
    return render(request, "marketplace/wallet.html", context)


def _report_request(request):
    period = reports.parse_period(request.GET.get("start"), request.GET.get("end"))
    group_by = request.GET.get("group_by") or "model"
    return period, group_by, reports.consumer_usage(user=request.user, period=period, group_by=group_by)


@login_required
@require_GET
def usage(request):
    try:
        period, group_by, rows = _report_request(request)
        daily = reports.consumer_usage(user=request.user, period=period, group_by="day")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("usage")
    chart = daily_chart(reports.daily_series(daily, period=period, value="cost"), label=short_credits)
    per_model = (
        rows if group_by == "model" else reports.consumer_usage(user=request.user, period=period, group_by="model")
    )
    summary = ledger.credit_summary(user=request.user)
    spendable = summary.balance - summary.held
    api_keys = list(ApiKey.objects.filter(user=request.user, revoked_at__isnull=True).order_by("-created_at"))
    spent = reports.keys_spend(api_keys=api_keys)
    context = {
        "keys": [(api_key, spent[api_key.pk]) for api_key in api_keys],
        "period": period, "group_by": group_by, "rows": rows, "chart": chart, "query": request.GET.urlencode(),
        "by_model": [{"label": row["model_label"], "value": row["cost"], "shown": short_credits(row["cost"])}
                     for row in sorted(per_model, key=lambda row: -row["cost"])[:10]],
        "spendable": spendable, "low_balance": spendable < settings.LOW_BALANCE_CREDITS * MICRO,
    }  # fmt: skip
    return render(request, "marketplace/usage.html", context)


@login_required
@require_GET
def usage_csv(request):
    try:
        period, group_by, rows = _report_request(request)
    except DomainError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="usage-{period.start}-{period.end}-{group_by}.csv"'
    column = {"day": "day", "model": "model_label", "key": "key_name"}[group_by]
    writer = csv.writer(response)
    writer.writerow([group_by, "requests", "prompt_tokens", "completion_tokens", "cost_credits"])
    for row in rows:
        writer.writerow(
            [row[column], row["requests"], row["prompt_tokens"], row["completion_tokens"], format_credits(row["cost"])]
        )
    return response
