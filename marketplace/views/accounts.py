"""Web pages for accounts: sign-up and API keys (log-in/out are Django's own views)."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from marketplace import services
from marketplace.exceptions import DomainError
from marketplace.forms import ApiKeyForm, SignUpForm
from marketplace.models import ApiKey
from marketplace.money import format_credits


@require_http_methods(["GET", "POST"])
def signup(request):
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_user(
                username=form.cleaned_data["username"],
                email=form.cleaned_data.get("email") or "",
                password=form.cleaned_data["password1"],
            )
        except DomainError as exc:
            form.add_error("username", exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    return render(request, "marketplace/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def keys(request):
    form = ApiKeyForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_secret = services.create_api_key(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.cleaned_data.get("expires_at"),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            form = ApiKeyForm()
    from marketplace.forms import KeyLimitsForm
    from marketplace.services import reports

    api_keys = list(ApiKey.objects.filter(user=request.user))
    spent = reports.keys_spend(api_keys=api_keys)
    for api_key in api_keys:
        api_key.spent = spent[api_key.pk]
        api_key.limits_form = KeyLimitsForm(
            initial={"rpm_limit": api_key.rpm_limit, "tpm_limit": api_key.tpm_limit,
                     "spend_limit": format_credits(api_key.spend_limit) if api_key.spend_limit is not None else "",
                     "spend_period": api_key.spend_period},
            prefix=f"key{api_key.pk}",
        )  # fmt: skip
    context = {"form": form, "api_keys": api_keys, "new_secret": new_secret}
    return render(request, "marketplace/keys.html", context)


@login_required
@require_POST
def revoke_key(request, key_id: int):
    try:
        api_key = services.revoke_api_key(user=request.user, key_id=key_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked {api_key.name}.")
    return redirect("keys")


@login_required
@require_POST
def key_limits(request, key_id: int):
    from marketplace.forms import KeyLimitsForm

    form = KeyLimitsForm(request.POST, prefix=f"key{key_id}")
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        messages.error(request, f"Limits not changed: {errors}")
        return redirect("keys")
    try:
        api_key = services.set_key_limits(user=request.user, key_id=key_id, **form.cleaned_data)
    except DomainError as exc:
        messages.error(request, f"Limits not changed: {exc.message}")
    else:
        messages.success(request, f"Limits of {api_key.name} saved.")
    return redirect("keys")
