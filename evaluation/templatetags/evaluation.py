"""{% evaluation_panel commit model is_owner as evaluation %}: what the store measured of the commit a model page shows,
beside the commit it came from (its base, else its parent) with the difference, the reports of its evals/ files,
and apart, what the card claims. The registry's page shows it without importing this app."""

from django import template

from evaluation import services, standard_set
from evaluation.api import claimed
from evaluation.models import DatasetKind, Evaluation, EvaluationStatus
from registry.models import Commit, Model

register = template.Library()

# (metrics key, label, how it is shown, True when lower is better)
FIGURES = [
    ("bits_per_byte", "Bits per byte", "{:.4f}", True),
    ("perplexity", "Perplexity (tokens)", "{:.2f}", True),
    ("tokens_per_second_b1", "Tokens/s, batch 1", "{:.1f}", False),
    ("tokens_per_second_b8", "Tokens/s, batch 8", "{:.1f}", False),
    ("load_seconds", "Load time (s)", "{:.2f}", True),
    ("peak_memory_bytes", "Peak memory (MB)", "mb", True),
    ("weight_bytes", "Weights on disk (MB)", "mb", True),
    ("parameters", "Parameters", "{:,}", True),
]


def _show(value, style: str) -> str:
    if value is None:
        return "—"
    return f"{value / 1e6:.1f}" if style == "mb" else style.format(value)


def figure_rows(metrics: dict, base: dict | None) -> list[dict]:
    rows = []
    for key, label, style, lower_better in FIGURES:
        value, before = metrics.get(key), (base or {}).get(key)
        change = ""
        if isinstance(value, int | float) and isinstance(before, int | float) and before:
            if value == before:
                change = "same"
            else:
                better = value < before if lower_better else value > before
                change = (f"{'+' if value > before else '−'}{abs(value - before) / abs(before):.1%} "
                          f"({'better' if better else 'worse'})")  # fmt: skip
        rows.append({"label": label, "value": _show(value, style), "base": _show(before, style) if base else "",
                     "change": change})  # fmt: skip
    return rows


@register.simple_tag
def evaluation_panel(commit: Commit | None, model: Model, is_owner: bool) -> dict | None:
    """Two queries whatever the commit: its results and its base's (or parent's) together, and its latest job."""
    if commit is None:
        return None
    base_id = commit.base_commit_id or commit.parent_id
    wanted = [commit.pk, base_id] if base_id else [commit.pk]
    found = Evaluation.objects.filter(commit_id__in=wanted).select_related("commit__model__owner")
    current = standard_set.load().sha256
    mine = sorted((row for row in found if row.commit_id == commit.pk and (
        row.dataset_kind == DatasetKind.PROVIDER or row.dataset_sha256 == current)),
        key=lambda row: (row.dataset_kind != DatasetKind.STANDARD, row.dataset_name))  # fmt: skip
    standard = next((row for row in mine if row.dataset_kind == DatasetKind.STANDARD), None)
    base = next((row for row in found if row.commit_id == base_id and row.dataset_kind == DatasetKind.STANDARD
                 and row.dataset_sha256 == current and row.status == EvaluationStatus.SUCCEEDED), None)  # fmt: skip
    job = services.job_under_way(commit)
    return {
        "standard": standard,
        "figures": figure_rows(standard.metrics, base.metrics if base else None)
        if standard and standard.metrics
        else [],
        "base_commit": base.commit if base else None,
        "files": [row for row in mine if row.dataset_kind == DatasetKind.PROVIDER],
        "pending": job,
        "claimed": claimed(model),
        "model": model,
        "is_owner": is_owner,
        "commit": commit,
    }


@register.filter
def report_rows(report: dict) -> list[tuple[str, dict]]:
    """A classification report's table as (label, figures) rows: the labels, then the averages."""
    table = (report or {}).get("table") or {}
    averages = [name for name in ("micro avg", "macro avg", "weighted avg") if name in table]
    return [(name, table[name]) for name in table if name not in averages] + [(name, table[name]) for name in averages]


@register.filter
def get_f1(row: dict):
    return (row or {}).get("f1-score")


@register.filter
def figure(value) -> str:
    """A metric as the panel shows it: floats to 4 decimals, whole numbers as they are."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
