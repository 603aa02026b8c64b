"""Recognise pickle-based weights by their bytes, whatever the file is called. Nothing here unpickles."""

import zipfile
from typing import BinaryIO

PICKLE_PROTOCOL_MARKERS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
ZIP_MAGIC = b"PK\x03\x04"
CONVERT_HINT = (
    "Pickle-based weights can run code when loaded, so the store never loads them. Convert the checkpoint "
    "to safetensors and upload that instead: `AutoModelForCausalLM.from_pretrained(path)"
    ".save_pretrained(out, safe_serialization=True)` on your own machine, then upload `out`."
)


def looks_like_pickle(handle: BinaryIO) -> str | None:
    """A reason if the content is a pickle or a torch zip archive holding one, else None."""
    head = handle.read(4)
    if head[:2] in PICKLE_PROTOCOL_MARKERS:
        return "the file is a Python pickle"
    if head == ZIP_MAGIC:
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return "the file is a damaged zip archive"
        if any(name.endswith(".pkl") for name in names):
            return "the file is a torch zip archive holding a pickle (data.pkl)"
        return "the file is a zip archive"
    return None
