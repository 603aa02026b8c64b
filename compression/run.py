"""A compression job's work in a job worker (jobs/runner.py claims it and calls the kind): quantize, prune (then a
recovery fine-tune when the job has a training file) or distill the base commit with engine/compress/, and commit the
result to a new private model with its lineage. Distillation and recovery train through engine/finetune.py, so they
report, checkpoint each epoch, stop when asked and resume from their saved state like any fine-tune. The ML runtime
is imported here only, never in a web process."""

import functools
import json
import os
import tempfile
from pathlib import Path

from django.conf import settings

from compression.kinds import NAMES, RELATIONS
from engine import finetune
from engine.compress import distill, prune, quantize
from evaluation import standard_set
from jobs import leases
from jobs.kinds import Stopped
from jobs.models import Job
from jobs.runner import Run
from registry.checkout import checkout
from training import run as training
from training.records import read_records


def compress(run: Run) -> int:
    """Do the job to its end and return the tokens it trained; Stopped when the run says to stop."""
    import torch

    job = run.job
    resolved = job.params["method"]
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings.TRAIN_WORKER_CONCURRENCY))
    assert job.base_commit is not None and job.base_model is not None  # every compression has a base
    lineage = {"job": job.public_id, "base_model": job.base_model.repo_id, "parent_commit": job.base_commit.sha,
               "method": resolved}  # fmt: skip
    if resolved["type"] == "quantize":
        with checkout(job.base_commit) as base, tempfile.TemporaryDirectory(prefix=f"{job.public_id}-") as out:
            run.event("Quantizing every linear layer to int8 (torchao, weight-only)")
            facts = quantize.quantize(Path(base), Path(out))
            _commit(job, Path(out), lineage | {"quantization": facts}, metrics={"step": 1})
        return 0
    model, tokenizer = training.load_base(job.base_commit)
    train_file = job.input("training")
    records = read_records(train_file) if train_file else []
    if train_file:
        lineage["training_file_sha256"] = train_file.blob.sha256
    if resolved["type"] == "prune":
        model, facts = _prune(run, model, tokenizer, records)
        lineage["pruning"] = facts
        if not records:  # no recovery fine-tune: the pruned weights are the result
            with tempfile.TemporaryDirectory(prefix=f"{job.public_id}-") as out:
                model.save_pretrained(out, safe_serialization=True)
                tokenizer.save_pretrained(out)
                _commit(job, Path(out), lineage, metrics={"step": 1})
            return 0
        trained = model
    else:
        spec = resolved["distill"]
        student = distill.build_student(model, distill.Student(**spec["student"]), seed=job.params["seed"])
        lineage["student"] = {**spec["student"], "parameters": sum(p.numel() for p in student.parameters())}
        trained = distill.wrap(student, model, temperature=spec["temperature"], alpha=spec["alpha"])
    from engine.serving import pick_device  # imports torch: only here

    hyper = resolved[resolved["type"]]["hyperparameters"]
    try:
        metrics = finetune.finetune(
            trained, tokenizer, records,
            finetune.Hyperparameters(n_epochs=hyper["n_epochs"], batch_size=hyper["batch_size"],
                                     learning_rate_multiplier=hyper["learning_rate_multiplier"],
                                     seed=job.params["seed"]),
            on_metrics=functools.partial(training.report_progress, run),
            on_checkpoint=functools.partial(_checkpoint, job, lineage), should_stop=run.should_stop,
            state_dir=run.state_dir, state_every=settings.CHECKPOINT_EVERY_STEPS, device=pick_device(),
        )  # fmt: skip
    except finetune.Stopped as stopped:
        raise Stopped(stopped.reason, stopped.tokens) from None
    return metrics.tokens


def _prune(run: Run, model, tokenizer, records: list[dict]):
    """The pruned model, and what was removed: calibrated on the calibration file, else the training file, else the
    standard evaluation set (the same pruning for the same inputs, so a resumed recovery starts from it again)."""
    job = run.job
    spec = job.params["method"]["prune"]
    calibration = job.input("calibration")
    if calibration is not None:
        source, texts = calibration.filename, _texts(read_records(calibration))
    elif records:
        source, texts = "the training file", _texts(records)
    else:
        current = standard_set.load()
        source, texts = f"the standard set {current.name} v{current.version}", list(current.documents)
    windows = prune.calibration_windows(tokenizer, texts, seq_len=min(256, model.config.n_positions))
    pruned = prune.prune(model, windows, prune.Pruning(ratio=spec["ratio"], drop_layers=spec["drop_layers"]))
    before, after = (sum(p.numel() for p in m.parameters()) for m in (model, pruned.model))
    run.event(f"Pruned on {source}: MLP {model.config.n_inner or 4 * model.config.n_embd} -> {pruned.n_inner} units, "
              f"{model.config.n_layer} -> {len(pruned.kept_layers)} blocks, {before:,} -> {after:,} parameters")  # fmt: skip
    facts = {"calibration": source, "n_inner": pruned.n_inner, "kept_layers": pruned.kept_layers,
             "block_influence": [round(value, 6) for value in pruned.block_influence], "parameters_before": before,
             "parameters_after": after}  # fmt: skip
    return pruned.model, facts


def _texts(records: list[dict]) -> list[str]:
    """The text a record trains on, whatever its format (text, prompt and completion, messages)."""
    found = []
    for record in records:
        if "text" in record:
            found.append(record["text"])
        elif "prompt" in record:
            found.append(record["prompt"] + record["completion"])
        else:
            found.append("\n".join(f"{m['role']}: {m['content']}" for m in record["messages"]))
    return found


def _checkpoint(job: Job, lineage: dict, metrics: finetune.Metrics, save) -> None:
    """Each epoch's weights as a commit of the result model (an epoch trained again after a resume is not committed
    twice)."""
    if job.checkpoints.filter(step_number=metrics.step).exists():
        return
    with tempfile.TemporaryDirectory(prefix=f"{job.public_id}-") as folder:
        _commit(job, save(Path(folder)), lineage | {"metrics": metrics.as_dict()}, metrics=metrics.as_dict())


def _commit(job: Job, directory: Path, facts: dict, *, metrics: dict) -> None:
    kind = job.params["method"]["type"]
    step = f", step {metrics['step']}" if "epoch" in metrics else ""
    commit = training.commit_folder(job, training.result_model(job, infix=NAMES[kind]), directory,
                                    card=card(job, facts), lineage=facts, relation=RELATIONS[kind],
                                    message=f"{kind.capitalize()} {job.public_id}{step}")  # fmt: skip
    leases.record_checkpoint(job, commit=commit, metrics=metrics)


def card(job: Job, facts: dict) -> str:
    """The model card: HF Hub's YAML (base_model, base_model_relation) and what was done."""
    assert job.base_model is not None and job.base_commit is not None
    kind = job.params["method"]["type"]
    relation = RELATIONS[kind]
    yaml = "\n".join(["---", f"base_model: {job.base_model.repo_id}", f"base_model_relation: {relation}",
                      f"compression_job: {job.public_id}", f"base_commit: {job.base_commit.sha}", "---"])  # fmt: skip
    what = {"quantize": "quantized to int8 (torchao, weight-only)", "prune": "pruned (structured)",
            "distill": "distilled into a smaller GPT-2"}[kind]  # fmt: skip
    title = f"# {job.base_model.name} {what}\n\nMade from `{job.base_label}` by the store's compression service."
    return f"{yaml}\n\n{title}\n\n```json\n{json.dumps(facts, indent=2, sort_keys=True)}\n```\n"
