"""The registry of job kinds: each kind is one class in its own module, registered by name with `@register`, and
the job system calls only what `JobKind` declares (as healthchecks resolves a transport by name). To add a kind, see
docs/architecture.md ("Adding a job kind").

A kind says:
- `plan`: check the request (InvalidInput naming the wrong `param` answers 400, nothing is created) and return a
  `Plan`: resolved parameters, input files by role, the base commit, the units to hold for and the resource class;
- `price`: micro-credits for a number of its units (tokens, seconds of a device class);
- `run`: do the work in a worker, reporting through the `Run` it is given, asking `run.should_stop()` between
  steps, and returning the units it used; raising `Stopped` when asked to cancel or pause;
- `admit` (optional): a side effect due once the request is accepted, before the job exists (a paid download);
- `Plan.events`: the events that open the job's log ("{job}" in one stands for the new job's id)."""

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from accounts.models import ApiKey, User
from jobs.models import ResourceClass

if TYPE_CHECKING:
    from files.models import File
    from jobs.runner import Run
    from registry.models import Commit, Model

_KINDS: dict[str, "JobKind"] = {}


@dataclasses.dataclass
class Plan:
    """What a checked request becomes: the job's row, before it exists."""

    params: dict
    estimated_units: int
    inputs: dict[str, "File"] = dataclasses.field(default_factory=dict)
    base_model: "Model | None" = None
    base_commit: "Commit | None" = None
    base_label: str = ""
    resource_class: str = ResourceClass.CPU
    metadata: dict = dataclasses.field(default_factory=dict)
    events: list[str] = dataclasses.field(default_factory=list)  # "{job}" becomes the id; nothing else is formatted
    admit: Callable[[], None] | None = None  # run once accepted, before the job and its hold are written
    hold: int | None = None  # micro-credits to hold, when not the kind's price(estimated_units) (a model's price)


class Stopped(Exception):
    """Raised by a kind's `run` when `should_stop()` said so: reason "cancel", "pause", "timeout" or "lost", after
    `units` units of work."""

    def __init__(self, reason: str, units: int):
        super().__init__(reason)
        self.reason, self.units = reason, units


class JobKind:
    name: ClassVar[str]
    id_prefix: ClassVar[str] = ""  # ids are f"{id_prefix}job-{24 hex}": "ftjob-..." for fine-tuning
    public_prefix: ClassVar[str] = ""  # or f"{public_prefix}{24 hex}" where an API fixes the shape ("evalrun_")
    unit: ClassVar[str] = "token"  # what price() counts
    noun: ClassVar[str] = "job"  # "fine-tuning job": how messages name it
    started: ClassVar[str] = "Job started"  # the event of a claim
    charge_key: ClassVar[str] = "job"  # the ledger's idempotency key is f"{charge_key}:{job id}"
    notifies: ClassVar[bool] = True  # tell the owner when a job succeeds or fails

    def plan(self, *, user: User, api_key: ApiKey | None, spec: dict) -> Plan:
        raise NotImplementedError

    def price(self, units: int) -> int:
        raise NotImplementedError

    def run(self, run: "Run") -> int:
        raise NotImplementedError


def register(kind: type[JobKind]) -> type[JobKind]:
    """Class decorator: make `kind` runnable by name. A second kind of the same name replaces the first (a test's)."""
    _KINDS[kind.name] = kind()
    return kind


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def get(name: str) -> JobKind:
    """The kind registered as `name`; LookupError for a job whose kind this process does not know."""
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"no job kind {name!r} is registered") from None


def names() -> list[str]:
    return sorted(_KINDS)
