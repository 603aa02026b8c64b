"""Model cards: README.md with optional YAML front matter, rendered as sanitised HTML."""

import markdown
import nh3
import yaml

from registry.models import Blob, Commit
from registry.storage import open_blob

CARD_PATH = "README.md"
MAX_CARD_BYTES = 200_000

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip


def split_front_matter(text: str) -> tuple[dict, str]:
    """(metadata, body). Metadata that is not a YAML mapping is ignored rather than trusted."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            try:
                meta = yaml.safe_load(text[4:end]) or {}
            except yaml.YAMLError:
                meta = {}
            return (meta if isinstance(meta, dict) else {}), text[end + 4 :].lstrip("\n")
    return {}, text


def front_matter_problem(text: str) -> str | None:
    """Why a README's front matter is not acceptable, or None."""
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---", 4)
    if end == -1:
        return "the YAML front matter has no closing '---' line"
    try:
        meta = yaml.safe_load(text[4:end])
    except yaml.YAMLError as exc:
        return f"invalid YAML: {exc}"
    if meta is not None and not isinstance(meta, dict):
        return "the metadata must be a YAML mapping"
    return None


def card_tags(text: str) -> list[str]:
    """The card's YAML `tags`, `license`, `language` and `pipeline_tag`, as HF Hub shows them (strings, at most 20)."""
    meta, _ = split_front_matter(text)
    found: list[str] = []
    for key in ("pipeline_tag", "license", "language", "tags"):
        value = meta.get(key)
        values = value if isinstance(value, list) else [value] if value else []
        found.extend(str(item)[:40] for item in values if isinstance(item, str | int | float) and str(item).strip())
    return list(dict.fromkeys(found))[:20]


def render_card(text: str) -> str:
    """Markdown to HTML, then sanitised with an allowlist (scripts, handlers and javascript: URLs removed)."""
    _, body = split_front_matter(text)
    html = markdown.markdown(body, extensions=["fenced_code", "tables"])
    return nh3.clean(html, tags=ALLOWED_TAGS, url_schemes={"http", "https", "mailto"}, link_rel="noopener nofollow")


def read_text(blob: Blob | None) -> str:
    """A text file's content ('' when absent or over MAX_CARD_BYTES), undecodable bytes replaced."""
    if blob is None or blob.size > MAX_CARD_BYTES:
        return ""
    with open_blob(blob) as handle:
        return handle.read().decode("utf-8", errors="replace")


def read_card(commit: Commit | None) -> str:
    """The README.md of a commit, as text ('' when it has none)."""
    if commit is None:
        return ""
    entry = commit.files.filter(path=CARD_PATH).select_related("blob").first()
    return read_text(entry.blob if entry else None)
