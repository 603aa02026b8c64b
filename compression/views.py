"""The portal's "Compress this model": one form, one POST that creates the job (compression/kinds.py checks it as
the API does; a refusal is a form error and creates nothing), then the job page follows it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from compression.forms import CompressForm
from core.exceptions import DomainError
from files import services as files
from files.models import File, FilePurpose
from registry import services as registry
from training import jobs


@login_required
@require_http_methods(["GET", "POST"])
def new_compression(request, namespace: str, name: str):
    try:
        base = registry.find_model(namespace=namespace, name=name, user=request.user)
    except DomainError:
        raise Http404("No such model") from None
    own_files = File.objects.filter(owner=request.user, purpose=FilePurpose.FINE_TUNE).order_by("-created_at")[:50]
    form = CompressForm(request.POST or None, request.FILES or None, files=own_files)
    if request.method == "POST" and form.is_valid():
        try:
            corpus = _corpus(request, form)
            job = jobs.create_job(user=request.user, api_key=None, model=base.repo_id, training_file=corpus,
                                  method_spec=form.method_spec(), suffix=form.cleaned_data["suffix"] or None)  # fmt: skip
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Job {job.public_id} is queued; this page follows it.")
            return redirect("job-detail", job_id=job.public_id)
    return render(request, "compression/new.html", {"base": base, "form": form})


def _corpus(request, form: CompressForm) -> str | None:
    """The corpus's file id (a new upload is stored first), or None: quantize takes none, prune may go without."""
    if form.cleaned_data["method"] == "quantize":
        return None
    upload = form.cleaned_data.get("upload")
    if upload is not None:
        return files.create_file(user=request.user, filename=upload.name, purpose="fine-tune",
                                 data=files.read_upload(upload)).public_id  # fmt: skip
    return form.cleaned_data.get("dataset") or None
