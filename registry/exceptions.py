"""Registry errors. `hf_code` is what the HF Hub protocol puts in the X-Error-Code header."""

from marketplace.exceptions import Conflict, DomainError, NotFound


class RepoNotFound(NotFound):
    code = "repo_not_found"
    hf_code = "RepoNotFound"


class RevisionNotFound(NotFound):
    code = "revision_not_found"
    hf_code = "RevisionNotFound"


class EntryNotFound(NotFound):
    code = "entry_not_found"
    hf_code = "EntryNotFound"


class RepoExists(Conflict):
    code = "repo_exists"


class StaleParent(Conflict):
    """The client built its commit on a head that has moved since."""

    code = "stale_parent"


__all__ = ["DomainError", "RepoNotFound", "RevisionNotFound", "EntryNotFound", "RepoExists", "StaleParent"]
