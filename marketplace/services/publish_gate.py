"""What must hold of a commit before a listing may serve it, beyond being valid: the evaluation app registers its
rule here (a succeeded verified evaluation on the standard set; evaluation/gate.py), so the marketplace asks without
importing a layer above it, as registry/policy.py does for downloads. With no rule registered, every valid commit
passes."""

import dataclasses
from collections.abc import Callable

from registry.models import Commit


@dataclasses.dataclass(frozen=True)
class Verdict:
    ready: bool
    reason: str = ""
    pending: bool = False  # not ready yet, but will be decided without the provider (an evaluation is running)


READY = Verdict(ready=True)
_rules: list[Callable[[Commit], Verdict]] = []
_preparers: list[Callable[[Commit], None]] = []


def register(rule: Callable[[Commit], Verdict]) -> None:
    if rule not in _rules:
        _rules.append(rule)


def check(commit: Commit) -> Verdict:
    """The first rule that does not pass, else READY."""
    for rule in _rules:
        verdict = rule(commit)
        if not verdict.ready:
            return verdict
    return READY


def register_preparer(preparer: Callable[[Commit], None]) -> None:
    """A function that makes a commit pass its rule in this process, if it can (the evaluation, run now)."""
    if preparer not in _preparers:
        _preparers.append(preparer)


def prepare(commit: Commit) -> None:
    """For the operator's shortcut (listings.publish_now, the demo): do now, in this process, what the rules wait
    for, outside any transaction. What fails shows in `check` afterwards."""
    if check(commit).ready:
        return
    for preparer in _preparers:
        preparer(commit)
