"""What HF tools read about a model besides its files: the card's metadata (`cardData`), tags, `config`,
`safetensors` and downloads, derived the way HF Hub derives them.

The head of `main` is kept on the Model (card_data, config_summary, ModelTag rows) by `refresh`, which the
registry calls with each commit there, so list_models can filter and sort in SQL; model_info at another revision
derives the same from that commit's files (`describe`)."""

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.json_input import has_control_characters
from registry.cards import CARD_PATH, read_text, split_front_matter
from registry.models import Blob, Commit, DownloadDay, Model, ModelTag
from registry.storage import open_blob

CONFIG_PATH = "config.json"  # HF Hub counts a download per request of this file
MAX_CONFIG_BYTES = 1_000_000
MAX_TAGS, MAX_TAG_CHARS = 50, 100
DOWNLOAD_WINDOW_DAYS = 30  # HF Hub's `downloads` is the last 30 days; `downloadsAllTime` everything
PIPELINE_TAG = "text-generation"


@dataclass(frozen=True)
class Description:
    card_data: dict
    config: dict
    tags: list[str]


def describe(files: Mapping[str, Blob | None]) -> Description:
    """The card's metadata, config.json's summary and the tags of a commit's files (path -> blob; only README.md
    and config.json are read, so the others may map to None)."""
    meta, _ = split_front_matter(read_text(files.get(CARD_PATH)))
    card_data = _json_safe(meta)
    config = _config_summary(files.get(CONFIG_PATH))
    has_safetensors = any(path.endswith(".safetensors") for path in files)
    return Description(card_data=card_data, config=config, tags=hub_tags(card_data, config, has_safetensors))


def of_head(model: Model, files: Mapping[str, Blob | None]) -> Description:
    """`describe` for the head of main, from what `refresh` kept on the model when that commit was made: model_info
    without a revision (every from_pretrained and snapshot_download asks it) reads no blob."""
    has_safetensors = any(path.endswith(".safetensors") for path in files)
    return Description(card_data=model.card_data, config=model.config_summary,
                       tags=hub_tags(model.card_data, model.config_summary, has_safetensors))  # fmt: skip


def hub_tags(card_data: dict, config: dict, has_safetensors: bool) -> list[str]:
    """Tags as HF Hub shows them: the library's, the format, the architecture, the task, then the card's own
    `tags`, its languages, `dataset:`, `base_model:` and `license:` tags. Strings only, no control characters."""
    found = ["transformers", *(["safetensors"] if has_safetensors else []), config.get("model_type"), PIPELINE_TAG]
    found += _strings(card_data.get("tags")) + _strings(card_data.get("language"))
    found += [f"dataset:{name}" for name in _strings(card_data.get("datasets"))]
    found += [f"base_model:{name}" for name in _strings(card_data.get("base_model"))]
    found += [f"license:{name}" for name in _strings(card_data.get("license"))]
    clean = [tag.strip() for tag in found if isinstance(tag, str) and tag.strip()]
    return list(dict.fromkeys(t for t in clean if len(t) <= MAX_TAG_CHARS and not has_control_characters(t)))[:MAX_TAGS]


def _strings(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(item) for item in values if isinstance(item, str | int | float) and not isinstance(item, bool)]


def _json_safe(meta: dict) -> dict:
    """YAML holds dates and non-string keys that JSON has not: written as text, as HF Hub returns them."""
    try:
        return json.loads(json.dumps(meta, default=str))
    except (TypeError, ValueError):
        return {}


def read_config(blob: Blob | None) -> dict:
    """A config.json blob as a dict ({} when it is missing, too big or not a JSON object)."""
    if blob is None or blob.size > MAX_CONFIG_BYTES:
        return {}
    try:
        with open_blob(blob) as handle:
            config = json.loads(handle.read())
    except (ValueError, RecursionError, OSError):
        return {}
    return config if isinstance(config, dict) else {}


def _config_summary(blob: Blob | None) -> dict:
    """config.json's `architectures` and `model_type` ({} when it is missing, too big or not a JSON object)."""
    config = read_config(blob)
    summary: dict = {}
    if isinstance(config.get("architectures"), list):
        summary["architectures"] = [name for name in config["architectures"] if isinstance(name, str)]
    if isinstance(config.get("model_type"), str):
        summary["model_type"] = config["model_type"]
    return summary


def refresh(*, model: Model, tree: dict[str, int]) -> None:
    """Keep what list_models reads of the new head of main (its tree: path -> blob id): call inside the commit's
    transaction."""
    wanted = {tree[path]: path for path in (CARD_PATH, CONFIG_PATH) if path in tree}
    files: dict[str, Blob | None] = dict.fromkeys(tree)
    files.update({wanted[blob.pk]: blob for blob in Blob.objects.filter(pk__in=wanted)})
    description = describe(files)
    model.card_data, model.config_summary = description.card_data, description.config
    model.save(update_fields=["card_data", "config_summary"])
    ModelTag.objects.filter(model=model).exclude(name__in=description.tags).delete()
    existing = set(ModelTag.objects.filter(model=model).values_list("name", flat=True))
    ModelTag.objects.bulk_create(ModelTag(model=model, name=tag) for tag in description.tags if tag not in existing)


def safetensors_info(commit: Commit | None) -> dict | None:
    """`safetensors` of model_info: parameters by dtype and their total, from the commit's validation report (None
    before it is validated)."""
    report = commit.validation_report if commit is not None else {}
    total = report.get("parameters") if isinstance(report, dict) else None
    if not isinstance(total, int):
        return None
    by_dtype = report.get("dtypes") or ({report["dtype"]: total} if report.get("dtype") else {})
    return {"parameters": by_dtype, "total": total}


def count_download(model: Model) -> None:
    """One more download of `model` today."""
    today = timezone.now().astimezone(dt.UTC).date()
    if DownloadDay.objects.filter(model=model, day=today).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            DownloadDay.objects.create(model=model, day=today, count=1)
    except IntegrityError:  # another request created today's row first
        DownloadDay.objects.filter(model=model, day=today).update(count=F("count") + 1)


def window_start() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date() - dt.timedelta(days=DOWNLOAD_WINDOW_DAYS - 1)


def downloads(model: Model) -> tuple[int, int]:
    """(downloads in the last 30 days, downloads of all time)."""
    days = DownloadDay.objects.filter(model=model)
    recent = days.filter(day__gte=window_start()).aggregate(total=Sum("count"))["total"] or 0
    return recent, days.aggregate(total=Sum("count"))["total"] or 0
