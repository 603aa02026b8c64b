"""Registry errors. `hf_code` is what the HF Hub protocol puts in the X-Error-Code header."""

from core.exceptions import Conflict, DomainError, NotFound, PermissionDenied


class RepoNotFound(NotFound):
    code = "repo_not_found"
    hf_code = "RepoNotFound"


class RevisionNotFound(NotFound):
    code = "revision_not_found"
    hf_code = "RevisionNotFound"


class EntryNotFound(NotFound):
    code = "entry_not_found"
    hf_code = "EntryNotFound"


class GatedRepo(PermissionDenied):
    """The weights of a model whose store listing offers it for calls only (huggingface_hub: GatedRepoError)."""

    code = "gated_repo"
    hf_code = "GatedRepo"


class StorageUnavailable(OSError):
    """A blob the database names cannot be read from storage right now (a transient fault: retried)."""


class NotRevalidatable(Conflict):
    code = "not_revalidatable"


class RepoExists(Conflict):
    code = "repo_exists"


class StaleParent(Conflict):
    """The client built its commit on a head that has moved since."""

    code = "stale_parent"


__all__ = ["DomainError", "EntryNotFound", "GatedRepo", "RepoExists", "RepoNotFound", "RevisionNotFound", "StaleParent"]
