"""Web pages of the registry: browse models, create one, upload files, edit the card, browse commits."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.exceptions import DomainError
from registry import cards, lineage, page_cache, services
from registry.cards import CARD_PATH, read_text
from registry.exceptions import RepoNotFound, RevisionNotFound
from registry.forms import CardForm, DeleteModelForm, ModelSettingsForm, NewModelForm
from registry.hub import Tree
from registry.models import Commit, Model


def _visible_model(request, namespace: str, name: str) -> Model:
    try:
        return services.find_model(namespace=namespace, name=name, user=request.user)
    except RepoNotFound:
        raise Http404("No such model") from None


@login_required
@require_http_methods(["GET", "POST"])
def new_model(request):
    form = NewModelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            model = services.create_model(
                owner=request.user, name=form.cleaned_data["name"], is_private=form.cleaned_data["is_private"]
            )
        except DomainError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(
                request, f"{model.repo_id} is created. Upload its checkpoint here, or push it with huggingface_hub."
            )
            return redirect("model-upload", namespace=model.owner.username, name=model.name)
    return render(request, "registry/new_model.html", {"form": form})


def model_detail(request, namespace: str, name: str, revision: str | None = None):
    """A model's page. Visitors who are not signed in all see the same page, so theirs is cached (page_cache) until
    anything on it changes; signed-in users get theirs rendered (their forms, reviews, the owner's tabs)."""
    if request.user.is_authenticated or len(messages.get_messages(request)):
        return _model_page(request, namespace, name, revision)
    html = page_cache.cached(
        "model", f"{request.get_host()}{request.get_full_path()}",
        lambda: _model_page(request, namespace, name, revision).content.decode(),
    )  # fmt: skip
    return HttpResponse(html)


def _model_page(request, namespace: str, name: str, revision: str | None):
    model = _visible_model(request, namespace, name)
    try:
        commit = (
            services.resolve_revision(model=model, revision=revision) if revision else services.head_commit(model=model)
        )
    except RevisionNotFound:
        raise Http404("No such revision") from None
    tree = Tree.of(commit)
    card = cards.read(read_text(tree.entries.get(CARD_PATH)))
    context = {
        "model": model,
        "commit": commit,
        "files": sorted(tree.entries.items()),
        "card_html": cards.render_card(card.body),
        "card_tags": cards.card_tags(card.meta),
        "card_problem": (card.problem, card.raw_front_matter) if card.problem else None,
        "is_owner": request.user.is_authenticated and request.user.pk == model.owner_id,
        "children": lineage.children(model, visible_to=request.user),
    }
    return render(request, "registry/model_detail.html", context)


def commit_list(request, namespace: str, name: str):
    model = _visible_model(request, namespace, name)
    commits = Commit.objects.filter(model=model).select_related("author")[:200]
    return render(request, "registry/commit_list.html", {"model": model, "commits": commits})


@login_required
@require_http_methods(["POST"])
def revalidate(request, namespace: str, name: str, sha: str):
    """The owner's "Validate again" button on an invalid commit's page."""
    model = _visible_model(request, namespace, name)
    commit = Commit.objects.filter(model=model, sha=sha).first()
    if commit is None or model.owner_id != request.user.pk:
        raise Http404("No such commit")
    services.request_validation(commit_id=commit.pk, by=request.user)
    return redirect("model-commit", namespace=namespace, name=name, revision=sha)


@login_required
def upload(request, namespace: str, name: str):
    model = _visible_model(request, namespace, name)
    if model.owner_id != request.user.pk:
        raise Http404("No such model")
    return render(request, "registry/upload.html", {"model": model})


@login_required
@require_http_methods(["GET", "POST"])
def edit_card(request, namespace: str, name: str):
    model = _visible_model(request, namespace, name)
    if model.owner_id != request.user.pk:
        raise Http404("No such model")
    tree = Tree.of(services.head_commit(model=model))
    form = CardForm(request.POST or None, initial={"content": read_text(tree.entries.get(CARD_PATH))})
    if request.method == "POST" and form.is_valid():
        try:
            commit = services.commit_card(model_id=model.pk, author=request.user, content=form.cleaned_data["content"])
        except DomainError as exc:
            form.add_error("content", exc.message)
        else:
            messages.success(request, f"The card is saved as commit {commit.sha[:12]}.")
            return redirect("model-detail", namespace=namespace, name=name)
    return render(request, "registry/edit_card.html", {"model": model, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def model_settings(request, namespace: str, name: str):
    """Visibility and description (the services behind the HF settings route), and deletion, for the owner only."""
    model = _visible_model(request, namespace, name)
    if model.owner_id != request.user.pk:
        raise Http404("No such model")
    initial = {"description": model.description, "is_private": model.is_private}
    settings_form = ModelSettingsForm(request.POST if "save" in request.POST else None, initial=initial)
    delete_form = DeleteModelForm(request.POST if "delete" in request.POST else None, repo_id=model.repo_id)
    if request.method == "POST" and "save" in request.POST and settings_form.is_valid():
        try:
            services.set_description(model_id=model.pk, description=settings_form.cleaned_data["description"])
            services.set_visibility(model_id=model.pk, is_private=settings_form.cleaned_data["is_private"])
        except DomainError as exc:
            settings_form.add_error("description", exc.message)
        else:
            messages.success(request, "Settings saved.")
            return redirect("model-settings", namespace=namespace, name=name)
    if request.method == "POST" and "delete" in request.POST and delete_form.is_valid():
        try:
            services.delete_model(model_id=model.pk)
        except DomainError as exc:
            delete_form.add_error(None, exc.message)
        else:
            messages.success(request, f"{model.repo_id} is deleted.")
            return redirect("home")
    context = {"model": model, "settings_form": settings_form, "delete_form": delete_form, "is_owner": True}
    return render(request, "registry/model_settings.html", context)
