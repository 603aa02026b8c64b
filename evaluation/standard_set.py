"""The standard set: the text every commit is scored on, the same for all, so their figures compare. It is English
prose from packages the store installs (their long descriptions: tqdm, openai, django-axes and celery, 154 KB), one
document per package, none of it in the demo model's training text (tests/evaluation/test_standard_set.py checks
every 60-character window). It is a file in the repository, not read from site-packages at run time, so an upgrade
of those packages never changes it silently: `python -m evaluation.standard_set` rebuilds it from what is
installed, and a new file gets a new VERSION and SHA256. Results on different versions are never compared."""

import dataclasses
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

NAME = "pkgdocs"
VERSION = "1"
SHA256 = "ff3fd6f3f6cb5f05f23172b34de111c5c724443c9438abec314b18eb1109de1f"
PACKAGES = ("tqdm", "openai", "django-axes", "celery")
PATH = Path(__file__).with_name("data") / f"{NAME}-{VERSION}.jsonl"
WINDOW = 60


@dataclasses.dataclass(frozen=True)
class StandardSet:
    name: str
    version: str
    sha256: str
    documents: tuple[str, ...]
    sources: tuple[str, ...]

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


@functools.cache
def load() -> StandardSet:
    """The committed set, refused if its bytes are not those its SHA256 names."""
    data = PATH.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{PATH} has sha256 {digest}, not the {SHA256} that {NAME} v{VERSION} names")
    rows = [json.loads(line) for line in data.decode().splitlines() if line]
    return StandardSet(NAME, VERSION, SHA256, tuple(r["text"] for r in rows), tuple(r["source"] for r in rows))


def build() -> bytes:
    """The set's file from the installed packages' long descriptions."""
    from importlib import metadata

    lines = []
    for package in PACKAGES:
        meta: Any = metadata.metadata(package)  # an email.message.Message: the long description is its payload
        text = (meta.get_payload() or meta.get("Description") or "").strip() + "\n"
        lines.append(json.dumps({"source": f"{package} {meta['Version']}", "text": text}, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def shared_windows(documents, others, *, width: int = WINDOW) -> set[str]:
    """The `width`-character windows of `documents` that also occur in `others`."""
    windows = {doc[start : start + width] for doc in documents for start in range(len(doc) - width + 1)}
    return {text[start : start + width] for text in others for start in range(len(text) - width + 1)
            if text[start : start + width] in windows}  # fmt: skip


if __name__ == "__main__":
    data = build()
    PATH.write_bytes(data)
    print(f"{PATH}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
