"""How the registry looks through the HF Hub protocol: repo info, tree listings and file metadata.

Every file is content-addressed by sha256 and described as a git-LFS object (`lfs.oid` = sha256), with
`oid` being the git blob id of its LFS pointer, exactly as the Hub describes LFS files."""

import datetime as dt
import hashlib
from dataclasses import dataclass

from registry import hub_metadata
from registry.models import Blob, Commit, Model

LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"


TRANSFORMERS_INFO = {
    "auto_model": "AutoModelForCausalLM",
    "pipeline_tag": "text-generation",
    "processor": "AutoTokenizer",
}


def hub_time(moment) -> str:
    """The Hub's timestamp format, which huggingface_hub parses strictly: 2024-01-31T12:00:00.000Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(blob: Blob) -> bytes:
    return LFS_POINTER.format(sha256=blob.sha256, size=blob.size).encode()


def file_json(path: str, blob: Blob) -> dict:
    pointer = lfs_pointer(blob)
    return {
        "type": "file",
        "oid": git_blob_id(pointer),
        "size": blob.size,
        "path": path,
        "lfs": {"oid": blob.sha256, "size": blob.size, "pointerSize": len(pointer)},
    }


def folder_json(path: str, children: list[str]) -> dict:
    return {
        "type": "directory",
        "oid": hashlib.sha1("\n".join(sorted(children)).encode()).hexdigest(),
        "size": 0,
        "path": path,
    }


@dataclass
class Tree:
    """A commit's files, keyed by path."""

    entries: dict[str, Blob]

    @classmethod
    def of(cls, commit: Commit | None) -> "Tree":
        if commit is None:
            return cls(entries={})
        return cls(entries={entry.path: entry.blob for entry in commit.files.select_related("blob")})

    def listing(self, folder: str, *, recursive: bool) -> list[dict] | None:
        """Entries under `folder` ('' for the root), or None if there is no such folder."""
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        files: list[dict] = []
        folders: dict[str, list[str]] = {}
        for path, blob in sorted(self.entries.items()):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                folder_path = prefix + "/".join(parts[:depth])
                folders.setdefault(folder_path, []).append(path)
            if recursive or len(parts) == 1:
                files.append(file_json(path, blob))
        if prefix and not files and not folders:
            return None
        shown = [
            folder_json(path, children)
            for path, children in sorted(folders.items())
            if recursive or "/" not in path[len(prefix) :]
        ]
        return shown + files


def repo_json(
    *,
    model: Model,
    commit: Commit | None,
    tree: Tree,
    description: hub_metadata.Description,
    downloads: tuple[int, int] = (0, 0),
    gated: bool | str = False,
) -> dict:
    """model_info as HF Hub answers it: ids, the commit, card metadata, tags, config, safetensors, downloads."""
    repo_id = model.repo_id
    recent, all_time = downloads
    return {
        "_id": f"model-{model.pk}",
        "id": repo_id,
        "modelId": repo_id,
        "author": model.owner.username,
        "sha": commit.sha if commit else None,
        "lastModified": hub_time(commit.created_at if commit else model.updated_at),
        "createdAt": hub_time(model.created_at),
        "private": model.is_private,
        "disabled": False,
        "gated": gated,
        "downloads": recent,
        "downloadsAllTime": all_time,
        "likes": 0,  # the store has reviews, not likes
        "library_name": "transformers",
        "pipeline_tag": hub_metadata.PIPELINE_TAG,
        "tags": description.tags,
        "cardData": description.card_data,
        "config": description.config,
        "transformersInfo": TRANSFORMERS_INFO,
        **({"safetensors": info} if (info := hub_metadata.safetensors_info(commit)) else {}),
        "validation": {
            "status": commit.validation_status if commit else None,
            "error": commit.validation_error if commit else "",
        },
        "siblings": [_sibling(file_json(path, blob)) for path, blob in sorted(tree.entries.items())],
    }


def _sibling(entry: dict) -> dict:
    """A tree entry in the shape of `siblings` in repo info (the same ids, other key names)."""
    lfs = entry["lfs"]
    return {
        "rfilename": entry["path"],
        "size": entry["size"],
        "blobId": entry["oid"],
        "lfs": {"sha256": lfs["oid"], "size": lfs["size"], "pointerSize": lfs["pointerSize"]},
    }
