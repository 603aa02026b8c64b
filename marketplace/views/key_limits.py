"""A key's rate and spend limits, changed from the keys page (whose rows marketplace.templatetags.key_limits draws)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts import services
from core.exceptions import DomainError
from marketplace.forms import KeyLimitsForm


@login_required
@require_POST
def key_limits(request, key_id: int):
    form = KeyLimitsForm(request.POST, prefix=f"key{key_id}")
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(map(str, errs))}" for field, errs in form.errors.items())
        messages.error(request, f"Limits not changed: {errors}")
        return redirect("keys")
    try:
        api_key = services.set_key_limits(user=request.user, key_id=key_id, **form.cleaned_data)
    except DomainError as exc:
        messages.error(request, f"Limits not changed: {exc.message}")
    else:
        messages.success(request, f"Limits of {api_key.name} saved.")
    return redirect("keys")
