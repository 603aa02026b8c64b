"""A training job's work, in a job worker (jobs/runner.py claims it and calls the kind): fine-tune its base, or
pretrain a GPT from scratch (engine/finetune.py), stopping between steps when the `Run` says so, and turn each
epoch's checkpoint into a commit of the result model (tagged ckpt-step-N, with its lineage). The ML runtime is
imported here only, never in a web process."""

import functools
import json
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction

from engine import finetune, pretrain
from jobs import leases
from jobs.kinds import Stopped
from jobs.models import Job
from jobs.runner import Run
from registry import services as registry
from registry.checkout import checkout
from registry.models import BaseRelation, Commit, Model
from training import method
from training.records import read_records


def train(run: Run) -> int:
    """Train the job to its end and return the tokens trained; kinds.Stopped when the run says to stop."""
    import torch  # the ML runtime loads in the job worker only

    from engine.serving import pick_device  # imports torch: only here, never in a web process

    job = run.job
    resolved = job.params["method"]
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings.TRAIN_WORKER_CONCURRENCY))
    train_file, valid_file = job.input("training"), job.input("validation")
    records = read_records(train_file)
    valid = read_records(valid_file) if valid_file else None
    lineage = {
        "job": job.public_id, "training_file_sha256": train_file.blob.sha256,
        "validation_file_sha256": valid_file.blob.sha256 if valid_file else None,
        "hyperparameters": method.hyperparameters_of(resolved),
    }  # fmt: skip
    if resolved["type"] == "pretrain":
        model, tokenizer, records, valid = _from_scratch(run, records, valid)
        lineage |= {
            "base_model": None,
            **{key: resolved["pretrain"][key] for key in ("preset", "vocab_size", "seq_len")},
        }
    else:
        assert job.base_model is not None and job.base_commit is not None  # a fine-tune has a base
        model, tokenizer = load_base(job.base_commit)
        lineage |= {"base_model": job.base_model.repo_id, "parent_commit": job.base_commit.sha,
                    "lora": resolved["supervised"].get("lora")}  # fmt: skip
    try:
        metrics = finetune.finetune(
            model, tokenizer, records, _hyperparameters(job), valid_records=valid,
            on_metrics=functools.partial(report_progress, run), on_checkpoint=functools.partial(_checkpoint, job, lineage),
            should_stop=run.should_stop, state_dir=run.state_dir, state_every=settings.CHECKPOINT_EVERY_STEPS,
            device=pick_device(),
        )  # fmt: skip
    except finetune.Stopped as stopped:
        raise Stopped(stopped.reason, stopped.tokens) from None
    return metrics.tokens


def report_progress(run: Run, metrics: finetune.Metrics) -> None:
    facts = metrics.as_dict()
    run.progress(step=metrics.step, total_steps=metrics.total_steps, units=metrics.tokens, data=facts,
                 message=f"Step {metrics.step}/{metrics.total_steps}: training loss={facts['train_loss']:.4f}")  # fmt: skip


def load_base(commit: Commit):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with checkout(commit) as base:
        model = AutoModelForCausalLM.from_pretrained(base, use_safetensors=True, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(base)
    return model, tokenizer


def _from_scratch(run: Run, records: list[dict], valid: list[dict] | None):
    """A byte-level BPE tokenizer trained on the corpus (kept with the job's state, so a resumed job uses the very
    same one), a GPT-2 of the preset's shape, and the corpus packed into windows of seq_len tokens."""
    from transformers import PreTrainedTokenizerFast

    job = run.job
    spec = job.params["method"]["pretrain"]
    texts = [record["text"] for record in records]
    kept = run.state_dir / "tokenizer"
    if (kept / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(kept)
    else:
        tokenizer = pretrain.train_tokenizer(texts, vocab_size=spec["vocab_size"])
        tokenizer.save_pretrained(kept)
    model = pretrain.build_gpt2(tokenizer, pretrain.PRESETS[spec["preset"]], seed=job.params["seed"])
    windows = [{"ids": ids} for ids in pretrain.pack(tokenizer, texts, seq_len=spec["seq_len"])]
    if not windows:
        raise ValueError(f"the corpus is shorter than one window of {spec['seq_len']} tokens")
    held_out = (
        [{"ids": ids} for ids in pretrain.pack(tokenizer, [r["text"] for r in valid], seq_len=spec["seq_len"])]
        if valid
        else None
    )
    return model, tokenizer, windows, held_out


def _hyperparameters(job: Job) -> finetune.Hyperparameters:
    resolved = job.params["method"]
    given = method.hyperparameters_of(resolved)
    scratch = resolved["type"] == "pretrain"
    return finetune.Hyperparameters(
        n_epochs=given["n_epochs"], batch_size=given["batch_size"],
        learning_rate_multiplier=given["learning_rate_multiplier"], seed=job.params["seed"],
        lora=None if scratch else resolved["supervised"].get("lora"),
        base_rate=method.PRETRAIN_RATE if scratch else None, cosine=scratch,
    )  # fmt: skip


def _checkpoint(job: Job, lineage: dict, metrics: finetune.Metrics, save) -> None:
    """Commit the epoch's weights to the result model's `main`, tag it ckpt-step-N and record it. An epoch
    trained again after a resume (its worker died after the commit, before the state) is not committed twice."""
    if job.checkpoints.filter(step_number=metrics.step).exists():
        return
    model = result_model(job)
    facts = {**lineage, "metrics": metrics.as_dict()}
    with tempfile.TemporaryDirectory(prefix=f"{job.public_id}-") as folder:
        commit = commit_folder(
            job, model, save(Path(folder)), card=_card(job, facts), lineage=facts,
            relation=BaseRelation.PRETRAIN if job.base_commit is None else BaseRelation.FINETUNE,
            message=f"{'Pretrain' if job.base_model_id is None else 'Fine-tune'} {job.public_id}: epoch {metrics.epoch}, "
                    f"step {metrics.step}",
        )  # fmt: skip
    leases.record_checkpoint(job, commit=commit, metrics=metrics.as_dict())


def commit_folder(job: Job, model: Model, directory: Path, *, card: str, lineage: dict, relation: str,
                  message: str) -> Commit:  # fmt: skip
    """Commit every file of `directory`, with `card` as its README.md, to `model`'s main, derived from the job's base
    commit by `relation`."""
    (directory / "README.md").write_text(card)
    operations: list[registry.Operation] = []
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        blob = registry.ingest_upload(user=job.owner, incoming_stream=[data], size=len(data))
        operations.append(registry.AddFile(path=path.name, blob=blob))
    return registry.commit_changes(model_id=model.pk, author=job.owner, operations=operations, lineage=lineage,
                                   base_commit=job.base_commit, base_relation=relation, message=message)  # fmt: skip


def _card(job: Job, facts: dict) -> str:
    """The model card: HF Hub's YAML (base_model and base_model_relation for a fine-tune) and the lineage."""
    if job.base_model is None or job.base_commit is None:
        preset = job.params["method"]["pretrain"]["preset"]
        yaml = f"---\npipeline_tag: text-generation\ntraining_job: {job.public_id}\n---"
        title = (
            f"# A {preset} GPT pretrained from scratch ({job.public_id})\n\nTrained by the store's training service."
        )
    else:
        yaml = "\n".join([
            "---", f"base_model: {job.base_model.repo_id}", "base_model_relation: finetune",
            f"fine_tuning_job: {job.public_id}", f"base_commit: {job.base_commit.sha}", "---",
        ])  # fmt: skip
        title = (f"# {job.base_model.name} fine-tuned ({job.public_id})\n\n"
                 f"Fine-tuned from `{job.base_label}` by the store's training service.")  # fmt: skip
    return f"{yaml}\n\n{title}\n\n```json\n{json.dumps(facts, indent=2, sort_keys=True)}\n```\n"


def result_model(job: Job, *, infix: str = "ft") -> Model:
    """The job's private result model `owner/<base-name>-<infix>-<suffix or job id>` (`owner/gpt-<preset>-...` from
    scratch), made on its first checkpoint."""
    if job.result_model_id:
        return Model.objects.get(pk=job.result_model_id)
    tail = job.params["suffix"] or job.public_id.removeprefix("ftjob-")[:12]
    if job.base_model is None:  # pretrained from scratch
        name = f"gpt-{job.params['method']['pretrain']['preset']}-{tail}"
    else:
        name = f"{job.base_model.name}-{infix}-{tail}"
    with transaction.atomic():
        model = registry.create_model(owner=job.owner, name=name[:96].rstrip("-_."), is_private=True)
        job.result_model = model
        job.result_label = model.repo_id
        job.save(update_fields=["result_model", "result_label"])
    return model
