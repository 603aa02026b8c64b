"""A validation report as a person reads it: labels, units, sizes in MB, the sample as text.

{% load report %}{% report_rows commit.validation_report as rows %}
"""

from django import template

from registry.humanize import short_count

register = template.Library()


def _count(value) -> str:
    """141_056 -> '141k (141,056)': short, then exact."""
    number = int(value)
    return f"{short_count(number)} ({number:,})" if number >= 1000 else f"{number:,}"


FIELDS = (
    ("architecture", "Architecture", str),
    ("model_type", "Model type", str),
    ("parameters", "Parameters", _count),
    ("dtype", "Weights stored as", str),
    ("context_length", "Context length", lambda value: f"{int(value):,} tokens"),
    ("vocab_size", "Vocabulary", lambda value: f"{int(value):,} tokens"),
    ("size_bytes", "Size on disk", lambda value: f"{int(value) / 1e6:,.1f} MB"),
    ("load_seconds", "Load time (transformers, CPU)", lambda value: f"{float(value):.2f} s"),
)


@register.simple_tag
def report_rows(report: dict) -> list[tuple[str, str]]:
    """(label, value) for the report's known figures, in a fixed order; unknown or malformed ones are skipped."""
    rows = []
    for key, label, show in FIELDS:
        value = (report or {}).get(key)
        if value in (None, ""):
            continue
        try:
            rows.append((label, show(value)))
        except (TypeError, ValueError):
            continue
    files = (report or {}).get("files")
    if isinstance(files, list) and files:
        rows.append(("Files", f"{len(files)}"))
    return rows
