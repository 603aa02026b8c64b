"""A validation report as a person reads it: labels, units, sizes in MB, the sample as text.

{% load report %}{% report_rows commit.validation_report as rows %}
"""

from django import template

register = template.Library()


def _count(value) -> str:
    number = int(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if number >= limit:
            return f"{number / limit:.3g}{suffix} ({number:,})"
    return f"{number:,}"


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
