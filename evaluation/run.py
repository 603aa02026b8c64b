"""The `evaluate` kind's work in a job worker: check the commit out, load it on this worker's device, score the
standard set (engine/scoring.py, lm-eval's rolling log-likelihood), measure speed and footprint (engine/speed.py),
run each evals/ file of the commit (engine/evalfiles.py), store every result in one transaction, then let listings
that waited for this evaluation go live. A broken evals/ file fails its own result only."""

import hashlib
import time
from pathlib import Path

from engine import evalfiles, scoring, speed
from evaluation import services, standard_set
from evaluation.models import DatasetKind, EvaluationStatus
from jobs.kinds import Stopped
from marketplace.services import listings
from registry.checkout import checkout

MAX_FILES = 20
MAX_FILE_BYTES = 16 * 1024 * 1024


def context_length(model, tokenizer) -> int:
    """The window the method scores in, found as lm-eval finds it: the config's, else the tokenizer's."""
    for name in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", 0)
    return limit if 0 < limit < 10**6 else 2048


def evaluate(run) -> int:
    """The kind's `run`: every result stored, or, when the commit cannot be evaluated at all (it does not load), a
    failed result on the standard set that says why, before the job fails with the same reason."""
    try:
        return _evaluate(run)
    except Stopped:
        raise
    except Exception as exc:
        standard = standard_set.load()
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        services.record_results(job=run.job, commit=run.job.base_commit, device="", outcomes=[services.Outcome(
            kind=DatasetKind.STANDARD, name=standard.name, version=standard.version, sha256=standard.sha256,
            form="text", status=EvaluationStatus.FAILED, metrics={}, reports={}, error=reason, seconds=0.0)])  # fmt: skip
        listings.evaluation_finished(model_id=run.job.base_commit.model_id)
        raise


def _evaluate(run) -> int:
    job = run.job
    commit = job.base_commit
    began = time.monotonic()
    standard = standard_set.load()
    device = speed.pick_device()

    def check_stop() -> None:
        reason = run.should_stop()
        if reason:
            raise Stopped(reason, units=int(time.monotonic() - began))

    with checkout(commit) as directory:
        files = _eval_files(directory)
        steps = 2 + len(files)
        run.progress(step=0, total_steps=steps, units=0, message=f"Loading {job.base_label} on {device.type}")
        model, tokenizer, footprint = speed.load(directory, device)
        max_len = context_length(model, tokenizer)
        outcomes = []
        started = time.monotonic()
        figures = scoring.total(scoring.rolling_loglikelihood(model, tokenizer, standard.documents,
                                                              max_len=max_len)).figures()  # fmt: skip
        check_stop()
        run.progress(step=1, total_steps=steps, units=int(time.monotonic() - began),
                     message=f"{standard.name} v{standard.version}: {figures['bits_per_byte']:.4f} bits per byte; "
                     "measuring speed")  # fmt: skip
        figures |= speed.throughput(model, tokenizer, footprint=footprint) | {"context_length": max_len}
        outcomes.append(services.Outcome(
            kind=DatasetKind.STANDARD, name=standard.name, version=standard.version, sha256=standard.sha256,
            form="text", status=EvaluationStatus.SUCCEEDED, metrics=figures, reports={}, error="",
            seconds=time.monotonic() - started))  # fmt: skip
        for step, (path, data) in enumerate(files, start=2):
            check_stop()
            run.progress(step=step, total_steps=steps, units=int(time.monotonic() - began), message=f"Running {path}")
            outcomes.append(_run_file(model, tokenizer, path, data, max_len=max_len, check_stop=check_stop))
    used = int(time.monotonic() - began)
    services.record_results(job=job, commit=commit, device=speed.device_name(device), outcomes=outcomes)
    for outcome in outcomes:
        if outcome.status == EvaluationStatus.FAILED:
            run.event(f"{outcome.name}: {outcome.error}", level="warning")
    run.event(f"Evaluated on {standard.name} v{standard.version}: {figures['bits_per_byte']:.4f} bits per byte, "
              f"perplexity {figures['perplexity']:.2f}, {figures['tokens_per_second_b1']:.1f} tokens/s at batch 1")  # fmt: skip
    listings.evaluation_finished(model_id=commit.model_id)
    return used


def _eval_files(directory: Path) -> list[tuple[str, bytes | None]]:
    """(path in the commit, bytes) of each evals/ JSONL file, sorted; None for one over the size limit."""
    found = sorted(path for path in (directory / "evals").rglob("*.jsonl") if path.is_file())[:MAX_FILES]
    return [(str(path.relative_to(directory)),
             path.read_bytes() if path.stat().st_size <= MAX_FILE_BYTES else None) for path in found]  # fmt: skip


def _run_file(model, tokenizer, path: str, data: bytes | None, *, max_len: int, check_stop) -> services.Outcome:
    started = time.monotonic()
    digest = hashlib.sha256(data or b"").hexdigest()
    form, metrics, error = "", {}, ""
    try:
        if data is None:
            raise evalfiles.EvalFileError(path, None, f"larger than {MAX_FILE_BYTES} bytes")
        form, rows = evalfiles.parse(path, data)
        metrics = evalfiles.run(model, tokenizer, form, rows, max_len=max_len, should_stop=check_stop)
    except evalfiles.EvalFileError as exc:
        error = str(exc)
    reports = {key: metrics.pop(key) for key in ("report", "entity_report", "samples_shown") if key in metrics}
    return services.Outcome(
        kind=DatasetKind.PROVIDER, name=path, version="", sha256=digest, form=form,
        status=EvaluationStatus.FAILED if error else EvaluationStatus.SUCCEEDED, metrics=metrics, reports=reports,
        error=error, seconds=time.monotonic() - started)  # fmt: skip
