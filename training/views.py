"""The portal's training pages: start a fine-tune from a model page (upload or pick a dataset, see its check and
the cost before confirming), the jobs list, and a job's page, which follows the job live (static/js/job.js polls
/v1/fine_tuning/jobs/{id} and its events with the session)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.exceptions import DomainError
from files import services as files
from files.models import File, FilePurpose
from registry import services as registry
from training import jobs, kinds, method
from training.base import SCRATCH, fine_tunable_base
from training.forms import FineTuneForm, PretrainForm
from training.models import FineTuningJob


@login_required
def job_list(request):
    found = FineTuningJob.objects.filter(owner=request.user).select_related("base_model__owner", "result_model")
    return render(request, "training/jobs.html", {"jobs": found[:200]})


@login_required
def job_detail(request, job_id: str):
    try:
        job = jobs.get_job(user=request.user, job_id=job_id)
    except DomainError:
        raise Http404("No such job or model") from None
    checkpoints = job.checkpoints.select_related("commit").order_by("step_number")
    context = {"job": job, "checkpoints": checkpoints, "events": job.events.order_by("-id")[:50],
               "result": job.result_model, "validation": job.input("validation"),
               "title": TITLES.get(job.kind, "Fine-tuning job")}  # fmt: skip
    return render(request, "training/job.html", context)


TITLES = {"pretrain": "Pretraining job", "quantize": "Quantization job", "prune": "Pruning job",
          "distill": "Distillation job"}  # fmt: skip


@login_required
@require_POST
def job_action(request, job_id: str, action: str):
    try:
        {"cancel": jobs.cancel_job, "pause": jobs.pause_job, "resume": jobs.resume_job}[action](
            user=request.user, job_id=job_id
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _ACTION_DONE[action])
    return redirect("job-detail", job_id=job_id)


_ACTION_DONE = {
    "cancel": "The job is cancelled; only the steps it trained are charged.",
    "pause": "The job is pausing: it stops after the step it is on, with a checkpoint to resume from.",
    "resume": "The job is queued again; it resumes from its last checkpoint.",
}


@login_required
@require_http_methods(["GET", "POST"])
def new_fine_tune(request, namespace: str, name: str):
    """Step one: the base, a dataset and the hyperparameters. Step two (`confirm` absent): the dataset's check and
    the estimate, with a button that creates the job. Nothing is created or charged before that button."""
    try:
        base = registry.find_model(namespace=namespace, name=name, user=request.user)
    except DomainError:
        raise Http404("No such job or model") from None
    training_data = File.objects.filter(owner=request.user, purpose=FilePurpose.FINE_TUNE)
    own_files = training_data.order_by("-created_at")[:50]
    form = FineTuneForm(request.POST or None, request.FILES or None, files=own_files)
    context = {"base": base, "form": form, "estimate": None}
    if request.method == "POST" and form.is_valid():
        try:
            dataset = _dataset(request, form)
            if request.POST.get("confirm") == "yes":
                job = jobs.create_job(user=request.user, api_key=None, model=base.repo_id,
                                      training_file=dataset.public_id, method_spec=form.method_spec(),
                                      suffix=form.cleaned_data["suffix"] or None)  # fmt: skip
                messages.success(request, f"Fine-tuning job {job.public_id} is queued; this page follows it.")
                return redirect("job-detail", job_id=job.public_id)
            context["estimate"] = _estimate(request.user, base, dataset, form)
            context["dataset"] = dataset
        except DomainError as exc:
            form.add_error(None, exc.message)
    return render(request, "training/new.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def new_from_scratch(request):
    """A new model pretrained from a corpus: the same check-then-confirm steps as a fine-tune."""
    own_files = File.objects.filter(
        owner=request.user, purpose=FilePurpose.FINE_TUNE, format__in=("plain", "text")
    ).order_by("-created_at")
    form = PretrainForm(request.POST or None, request.FILES or None, files=own_files[:50])
    context: dict = {"form": form, "estimate": None}
    if request.method == "POST" and form.is_valid():
        try:
            upload = form.cleaned_data.get("corpus")
            corpus = (files.create_file(user=request.user, filename=upload.name, purpose="fine-tune", data=files.read_upload(upload))
                      if upload is not None else files.get_file(user=request.user, file_id=form.cleaned_data["dataset"]))  # fmt: skip
            if request.POST.get("confirm") == "yes":
                job = jobs.create_job(user=request.user, api_key=None, model=SCRATCH,
                                      training_file=corpus.public_id, method_spec=form.method_spec(),
                                      suffix=form.cleaned_data["suffix"] or None)  # fmt: skip
                messages.success(request, f"Pretraining job {job.public_id} is queued; this page follows it.")
                return redirect("job-detail", job_id=job.public_id)
            resolved = method.resolve(method=form.method_spec(), hyperparameters=None, examples=corpus.examples)
            planned = kinds.estimate(train=corpus, resolved=resolved, commit=None)
            context.update(dataset=corpus, estimate={"texts": corpus.examples, "bytes": planned.per_pass,
                                                     "epochs": planned.epochs, "cost": planned.cost})  # fmt: skip
        except DomainError as exc:
            form.add_error(None, exc.message)
    return render(request, "training/new_from_scratch.html", context)


def _dataset(request, form: FineTuneForm) -> File:
    upload = form.cleaned_data.get("upload")
    if upload is not None:
        return files.create_file(
            user=request.user, filename=upload.name, purpose="fine-tune", data=files.read_upload(upload)
        )
    return files.get_file(user=request.user, file_id=form.cleaned_data["dataset"])


def _estimate(user, base, dataset: File, form: FineTuneForm) -> dict:
    """What the job would train and cost, as create_job will hold it (kinds.estimate)."""
    commit = fine_tunable_base(user=user, model_id=base.repo_id)[1]
    resolved = method.resolve(method=form.method_spec(), hyperparameters=None, examples=dataset.examples)
    planned = kinds.estimate(train=dataset, resolved=resolved, commit=commit)
    return {"examples": dataset.examples, "format": dataset.get_format_display(), "tokens": planned.per_pass,
            "epochs": planned.epochs, "hyperparameters": method.hyperparameters_of(resolved), "cost": planned.cost}  # fmt: skip
