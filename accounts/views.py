"""Web pages for accounts: sign-up and API keys (log-in/out are Django's own views). A key's limits and spend
are the marketplace's: its `key_limits` template tags draw them, and marketplace.views.key_limits saves them."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import notifications as notifications_service
from accounts import services
from accounts.forms import ApiKeyForm, SignUpForm
from accounts.models import ApiKey, Notification
from core.exceptions import DomainError


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
            messages.success(request, f"Welcome, {user.username}: your account is ready. Create an API key to call "
                                      "or pull models, or a model to publish your own.")  # fmt: skip
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


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
            messages.success(request, f"Created the key {form.cleaned_data['name']}.")
            form = ApiKeyForm()
    api_keys = list(ApiKey.objects.filter(user=request.user))  # each key's limits and spend: {% key_limits %}
    context = {"form": form, "api_keys": api_keys, "new_secret": new_secret}
    return render(request, "accounts/keys.html", context)


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
@require_GET
def notifications(request):
    """The signed-in user's notifications, newest first; opening the page marks them read."""
    shown = list(Notification.objects.filter(user=request.user)[:100])
    notifications_service.mark_read(user=request.user)
    return render(request, "accounts/notifications.html", {"notifications": shown})
