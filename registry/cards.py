"""Model cards: README.md with optional YAML front matter, rendered as sanitised HTML."""

from dataclasses import dataclass

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


MAX_FRONT_MATTER_BYTES = 64_000  # HF Hub's cards hold a few KB of metadata; model-index results are the biggest
MAX_FRONT_MATTER_DEPTH = 32  # model-index nests 6 levels deep; PyYAML's composer recurses once per level
MAX_FRONT_MATTER_NODES = 20_000


class CardMetadataError(ValueError):
    """A README whose YAML front matter cannot be accepted; the message says why, for the person who wrote it."""


@dataclass(frozen=True)
class Card:
    """A README read once: its metadata ({} when it has none or it cannot be read), its Markdown body, and why the
    front matter cannot be read (None when it can) with that front matter as written."""

    meta: dict
    body: str
    problem: str | None = None
    raw_front_matter: str = ""


def _check_shape(source: str) -> None:
    """Refuse YAML too big, too deep or too wide before composing it: PyYAML builds nodes recursively (3,000 levels
    raised RecursionError, a 500 on every page that showed the card) and expands aliases into shared objects that
    every later reader walks again. The event stream it reads first is flat, so it is safe to count."""
    if len(source.encode("utf-8", errors="replace")) > MAX_FRONT_MATTER_BYTES:
        raise CardMetadataError(f"the YAML front matter is over {MAX_FRONT_MATTER_BYTES:,} bytes")
    depth = nodes = 0
    for event in yaml.parse(source, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise CardMetadataError("the YAML front matter uses an alias (*name); write the value out instead")
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_FRONT_MATTER_NODES:
                raise CardMetadataError(f"the YAML front matter has over {MAX_FRONT_MATTER_NODES:,} values")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_FRONT_MATTER_DEPTH:
                raise CardMetadataError(f"the YAML front matter is nested over {MAX_FRONT_MATTER_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _metadata(source: str) -> dict:
    """The front matter's mapping, or CardMetadataError saying why it is not one."""
    try:
        _check_shape(source)
        meta = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise CardMetadataError(f"invalid YAML: {exc}") from None
    if meta is not None and not isinstance(meta, dict):
        raise CardMetadataError("the metadata must be a YAML mapping")
    return meta or {}


def read(text: str) -> Card:
    """A README's parts. Never raises: metadata that cannot be read is kept out of `meta` (so nothing trusts it)
    and named in `problem`; the body is what follows it (the whole text when the closing line is missing)."""
    if not text.startswith("---\n"):
        return Card(meta={}, body=text)
    end = text.find("\n---", 4)
    if end == -1:
        return Card(meta={}, body=text, problem="the YAML front matter has no closing '---' line")
    source, body = text[4:end], text[end + 4 :].lstrip("\n")
    try:
        return Card(meta=_metadata(source), body=body)
    except CardMetadataError as exc:
        return Card(meta={}, body=body, problem=str(exc), raw_front_matter=source)


def parse_front_matter(text: str) -> tuple[dict, str]:
    """(metadata, body) of a README, strictly: CardMetadataError says what is wrong with its front matter."""
    card = read(text)
    if card.problem:
        raise CardMetadataError(card.problem)
    return card.meta, card.body


def split_front_matter(text: str) -> tuple[dict, str]:
    """(metadata, body), leniently, for a card already stored (`read`)."""
    card = read(text)
    return card.meta, card.body


def front_matter_problem(text: str) -> str | None:
    """Why a README's front matter is not acceptable, or None."""
    return read(text).problem


def card_tags(meta: dict) -> list[str]:
    """The card's YAML `tags`, `license`, `language` and `pipeline_tag`, as HF Hub shows them (strings, at most 20)."""
    found: list[str] = []
    for key in ("pipeline_tag", "license", "language", "tags"):
        value = meta.get(key)
        values = value if isinstance(value, list) else [value] if value else []
        found.extend(str(item)[:40] for item in values if isinstance(item, str | int | float) and str(item).strip())
    return list(dict.fromkeys(found))[:20]


def render_card(body: str) -> str:
    """A card's Markdown body as HTML, sanitised with an allowlist (scripts, handlers and javascript: URLs
    removed)."""
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
