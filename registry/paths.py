"""File names inside a repository. Client paths are metadata only; they never become storage paths,
but we still keep them to a plain, portable shape so nothing odd reaches a client's disk either."""

import re

from core.exceptions import InvalidInput

MAX_PATH_LENGTH = 255
MAX_DEPTH = 8
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")
_DOT_FILES = {".gitattributes", ".gitignore"}


def check_repo_path(path: object) -> str:
    """Return the path if it is a safe relative file name, else raise InvalidInput (HTTP 400)."""
    if not isinstance(path, str) or not path:
        raise InvalidInput("file path must be a non-empty string", param="path")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidInput(f"file path is longer than {MAX_PATH_LENGTH} characters", param="path")
    segments = path.split("/")
    if len(segments) > MAX_DEPTH:
        raise InvalidInput(f"file path is deeper than {MAX_DEPTH} folders", param="path")
    for segment in segments:
        if segment in _DOT_FILES and segment == segments[-1]:
            continue
        if not _SEGMENT.fullmatch(segment):
            raise InvalidInput(
                f"invalid file path {path!r}: use relative paths of letters, digits and '_.+-', "
                "no leading '/', '.', '..' or empty parts",
                param="path",
            )
    return path
