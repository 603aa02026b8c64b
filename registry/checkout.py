"""Lay a commit's files out as a directory, the way transformers expects to read a checkpoint."""

import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from registry.exceptions import StorageUnavailable
from registry.models import Commit
from registry.paths import check_repo_path
from registry.storage import blob_local_path, open_blob


@contextmanager
def checkout(commit: Commit, *, only: Collection[str] | None = None) -> Iterator[Path]:
    """A temporary directory holding the commit's tree: symlinks into local storage, or copies from remote storage.
    With `only`, just the files at those paths (a web process that needs the tokenizer reads no weights)."""
    directory = Path(tempfile.mkdtemp(prefix=f"checkout-{commit.sha[:8]}-"))
    entries = commit.files.select_related("blob")
    if only is not None:
        entries = entries.filter(path__in=list(only))
    try:
        for entry in entries:
            target = directory / check_repo_path(entry.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            local = blob_local_path(entry.blob)
            if local is not None:
                if not os.path.isfile(local):  # storage lost it, or a shared volume is away: retry, never "invalid"
                    raise StorageUnavailable(f"{entry.path} (blob {entry.blob.sha256[:12]}) is not in storage")
                os.symlink(local, target)
            else:
                with open_blob(entry.blob) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
