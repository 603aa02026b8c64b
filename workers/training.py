"""The train worker: claim a job (training/leases.py), fine-tune its base (engine/finetune.py) with a
heartbeat that renews the lease and carries cancel and pause, turn each epoch's checkpoint into a commit of the
result model (tagged ckpt-step-N, with its lineage), and finish the job. One job at a time per process."""

import functools
import json
import logging
import os
import socket
import tempfile
import threading
from pathlib import Path

from django.conf import settings
from django.db import connection

from engine import finetune, pretrain
from registry import services as registry
from registry.checkout import checkout
from registry.models import BaseRelation, Commit
from training import files, jobs, leases, method
from training.models import FineTuningJob, JobStatus

logger = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def run_jobs() -> int:
    """Run jobs until none is left to claim; returns how many ran."""
    ran = 0
    while (job := leases.claim_job(worker=WORKER)) is not None:
        run_job(job)
        ran += 1
    return ran


def run_job(job: FineTuningJob) -> None:
    heartbeat = _Heartbeat(job)
    heartbeat.start()
    try:
        _train(job, heartbeat)
    except finetune.Stopped as stopped:
        _stopped(job, stopped)
    except Exception as exc:  # the job fails with its reason; the worker goes on with the next one
        logger.exception("fine-tuning job %s failed", job.public_id)
        leases.finish_job(job, status=JobStatus.FAILED, error={"code": "training_failed", "param": None,
                                                               "message": f"{type(exc).__name__}: {exc}"[:500]})  # fmt: skip
    finally:
        heartbeat.stop()


def _stopped(job: FineTuningJob, stopped: finetune.Stopped) -> None:
    trained = stopped.tokens
    if stopped.reason == "cancel":
        leases.finish_job(job, status=JobStatus.CANCELLED, tokens=trained)
    elif stopped.reason == "timeout":
        leases.finish_job(job, status=JobStatus.FAILED, tokens=trained, error={
            "code": "timeout", "param": None, "message": f"the job ran past MAX_JOB_SECONDS ({settings.MAX_JOB_SECONDS} s)",
        })  # fmt: skip
    elif stopped.reason == "pause":
        jobs.add_event(job, f"Paused after {trained} tokens: resume continues from here")
    # "lost": another worker holds the job now; it is its to finish


def _train(job: FineTuningJob, heartbeat: "_Heartbeat") -> None:
    import torch  # the ML runtime loads in the train worker only

    from engine.serving import pick_device  # imports torch: only here, never in a web process

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings.TRAIN_WORKER_CONCURRENCY))
    records = files.read_records(job.training_file)
    valid = files.read_records(job.validation_file) if job.validation_file else None
    lineage = {
        "job": job.public_id, "training_file_sha256": job.training_file.blob.sha256,
        "validation_file_sha256": job.validation_file.blob.sha256 if job.validation_file else None,
        "hyperparameters": method.hyperparameters_of(job.method),
    }  # fmt: skip
    if job.method["type"] == "pretrain":
        model, tokenizer, records, valid = _from_scratch(job, records, valid)
        lineage |= {
            "base_model": None,
            **{key: job.method["pretrain"][key] for key in ("preset", "vocab_size", "seq_len")},
        }
    else:
        assert job.base_model is not None and job.base_commit is not None  # a fine-tune has a base
        model, tokenizer = _base(job.base_commit)
        lineage |= {"base_model": job.base_model.repo_id, "parent_commit": job.base_commit.sha,
                    "lora": job.method["supervised"].get("lora")}  # fmt: skip
    metrics = finetune.finetune(
        model, tokenizer, records, _hyperparameters(job), valid_records=valid,
        on_metrics=lambda m: leases.record_metrics(job, m.as_dict()),
        on_checkpoint=functools.partial(_checkpoint, job, lineage),
        should_stop=heartbeat.reason, state_dir=jobs.state_dir(job), state_every=settings.CHECKPOINT_EVERY_STEPS,
        device=pick_device(),
    )  # fmt: skip
    leases.finish_job(job, status=JobStatus.SUCCEEDED, tokens=metrics.tokens)


def _base(commit: Commit):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with checkout(commit) as base:
        model = AutoModelForCausalLM.from_pretrained(base, use_safetensors=True, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(base)
    return model, tokenizer


def _from_scratch(job: FineTuningJob, records: list[dict], valid: list[dict] | None):
    """A byte-level BPE tokenizer trained on the corpus (kept with the job's state, so a resumed job uses the very
    same one), a GPT-2 of the preset's shape, and the corpus packed into windows of seq_len tokens."""
    from transformers import PreTrainedTokenizerFast

    spec = job.method["pretrain"]
    texts = [record["text"] for record in records]
    kept = jobs.state_dir(job) / "tokenizer"
    if (kept / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(kept)
    else:
        tokenizer = pretrain.train_tokenizer(texts, vocab_size=spec["vocab_size"])
        tokenizer.save_pretrained(kept)
    model = pretrain.build_gpt2(tokenizer, pretrain.PRESETS[spec["preset"]], seed=job.seed)
    windows = [{"ids": ids} for ids in pretrain.pack(tokenizer, texts, seq_len=spec["seq_len"])]
    if not windows:
        raise ValueError(f"the corpus is shorter than one window of {spec['seq_len']} tokens")
    held_out = (
        [{"ids": ids} for ids in pretrain.pack(tokenizer, [r["text"] for r in valid], seq_len=spec["seq_len"])]
        if valid
        else None
    )
    return model, tokenizer, windows, held_out


def _hyperparameters(job: FineTuningJob) -> finetune.Hyperparameters:
    given = method.hyperparameters_of(job.method)
    scratch = job.method["type"] == "pretrain"
    return finetune.Hyperparameters(
        n_epochs=given["n_epochs"], batch_size=given["batch_size"],
        learning_rate_multiplier=given["learning_rate_multiplier"], seed=job.seed,
        lora=None if scratch else job.method["supervised"].get("lora"),
        base_rate=method.PRETRAIN_RATE if scratch else None, cosine=scratch,
    )  # fmt: skip


def _checkpoint(job: FineTuningJob, lineage: dict, metrics: finetune.Metrics, save) -> None:
    """Commit the epoch's weights to the result model's `main`, tag it ckpt-step-N and record it. An epoch
    trained again after a resume (its worker died after the commit, before the state) is not committed twice."""
    if job.checkpoints.filter(step_number=metrics.step).exists():
        return
    model = leases.result_model(job)
    with tempfile.TemporaryDirectory(prefix=f"{job.public_id}-") as folder:
        directory = save(Path(folder))
        facts = {**lineage, "metrics": metrics.as_dict()}
        (directory / "README.md").write_text(_card(job, facts))
        operations: list[registry.Operation] = []
        for path in sorted(directory.iterdir()):
            data = path.read_bytes()
            blob = registry.ingest_upload(user=job.owner, incoming_stream=[data], size=len(data))
            operations.append(registry.AddFile(path=path.name, blob=blob))
    commit = registry.commit_changes(
        model_id=model.pk, author=job.owner, operations=operations, lineage=facts, base_commit=job.base_commit,
        base_relation=BaseRelation.PRETRAIN if job.base_commit is None else BaseRelation.FINETUNE,
        message=f"{'Pretrain' if job.base_model_id is None else 'Fine-tune'} {job.public_id}: epoch {metrics.epoch}, "
                f"step {metrics.step}",
    )  # fmt: skip
    leases.record_checkpoint(job, commit=commit, metrics=metrics.as_dict())


def _card(job: FineTuningJob, facts: dict) -> str:
    """The model card: HF Hub's YAML (base_model and base_model_relation for a fine-tune) and the lineage."""
    if job.base_model is None or job.base_commit is None:
        preset = job.method["pretrain"]["preset"]
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


class _Heartbeat:
    """Renews the job's lease every JOB_LEASE_SECONDS / 4 (at most 2 s) and keeps the latest reason to stop; the
    training loop asks `reason` before every step."""

    def __init__(self, job: FineTuningJob):
        self.job = job
        self._reason: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job.public_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def reason(self) -> str | None:
        """Why to stop before the next step: the beat's last answer (lost, timeout), or the owner's cancel or pause
        read now, so a cancel stops the very next step instead of up to a beat later."""
        return self._reason or leases.requested_stop(self.job)

    def _run(self) -> None:
        interval = min(2.0, settings.JOB_LEASE_SECONDS / 4)
        try:
            while not self._stop.wait(interval):
                try:
                    self._reason = leases.renew_lease(job=self.job, worker=WORKER)
                except Exception:  # the database blinked: try again at the next beat
                    logger.warning("could not renew the lease of %s", self.job.public_id, exc_info=True)
        finally:
            connection.close()
