"""The job worker's loop, whatever the kind: claim a job of this worker's resource classes (jobs/leases.py), run its
kind with a heartbeat that renews the lease and carries cancel and pause, and finish it. One job at a time per
process; the kind does the work through the `Run` it is handed."""

import logging
import os
import socket
import threading
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.db import connection

from jobs import kinds, leases
from jobs.models import Job, JobStatus
from jobs.services import add_event, state_dir

logger = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"


class Beat(Protocol):
    def reason(self) -> str | None: ...


class Run:
    """What a kind's `run` is handed: its job, the worker's reasons to stop (its heartbeat's, or nobody's for a job
    run in its caller's process), and where to report."""

    def __init__(self, job: Job, heartbeat: Beat):
        self.job = job
        self._heartbeat = heartbeat

    def should_stop(self) -> str | None:
        """Why to stop before the next step: "cancel", "pause", "timeout", "lost" or None to go on."""
        return self._heartbeat.reason()

    def progress(self, *, step: int, total_steps: int, units: int, message: str, data: dict | None = None) -> None:
        leases.record_progress(self.job, step=step, total_steps=total_steps, units=units, message=message, data=data)

    def event(self, message: str, *, level: str = "info") -> None:
        add_event(self.job, message, level=level)

    @property
    def state_dir(self) -> Path:
        """Where to keep what a resumed attempt needs (a volume every worker of the class shares)."""
        return state_dir(self.job)


def run_jobs(*, resources: tuple[str, ...] = leases.CPU_WORKER, kind_names: tuple[str, ...] = ()) -> int:
    """Run jobs of these resource classes (and kinds, when named) until none is left to claim; returns how many."""
    ran = 0
    while (job := leases.claim_job(worker=WORKER, resources=resources, kind_names=kind_names)) is not None:
        run_job(job)
        ran += 1
    return ran


def run_job(job: Job) -> None:
    heartbeat = Heartbeat(job)
    heartbeat.start()
    try:
        units = kinds.get(job.kind).run(Run(job, heartbeat))
        leases.finish_job(job, status=JobStatus.SUCCEEDED, units=units)
    except kinds.Stopped as stopped:
        _stopped(job, stopped)
    except Exception as exc:  # the job fails with its reason; the worker goes on with the next one
        logger.exception("%s job %s failed", job.kind, job.public_id)
        leases.finish_job(job, status=JobStatus.FAILED, error={"code": "job_failed", "param": None,
                                                               "message": f"{type(exc).__name__}: {exc}"[:500]})  # fmt: skip
    finally:
        heartbeat.stop()


def _stopped(job: Job, stopped: kinds.Stopped) -> None:
    if stopped.reason == "cancel":
        leases.finish_job(job, status=JobStatus.CANCELLED, units=stopped.units)
    elif stopped.reason == "timeout":
        leases.finish_job(job, status=JobStatus.FAILED, units=stopped.units, error={
            "code": "timeout", "param": None, "message": f"the job ran past MAX_JOB_SECONDS ({settings.MAX_JOB_SECONDS} s)",
        })  # fmt: skip
    elif stopped.reason == "pause":
        add_event(job, f"Paused after {stopped.units} {job.unit}s: resume continues from here")
    # "lost": another worker holds the job now; it is its to finish


class Heartbeat:
    """Renews the job's lease every JOB_LEASE_SECONDS / 4 (at most 2 s) and keeps the latest reason to stop."""

    def __init__(self, job: Job):
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
        """The beat's last answer (lost, timeout), or the owner's cancel or pause read now, so a cancel stops the
        very next step instead of up to a beat later."""
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
