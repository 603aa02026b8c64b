"""A model's family as the store shows it: every ancestor of the commit on show and every descendant of the model
(fine-tunes, compressed versions, pretrained origins) that the viewer may see, each with its key figures from the
store's own evaluation, and the trade-off of a compressed commit against its parent. The model page's panel and
`GET /api/v1/models/{ns}/{name}/lineage` read it; a private relative stays unknown to others (left out)."""

import dataclasses

from evaluation import standard_set
from evaluation.models import Evaluation, EvaluationStatus
from registry import lineage
from registry.models import BaseRelation, Commit, Model

COMPRESSED = (BaseRelation.QUANTIZED, BaseRelation.PRUNED, BaseRelation.DISTILLED)
# (metrics key, label, number format, True when lower is better): the trade-off table's rows, in the order
TRADEOFF = [
    ("weight_bytes", "Size on disk", "mb", True),
    ("parameters", "Parameters", "{:,}", True),
    ("tokens_per_second_b1", "Tokens/s, batch 1", "{:.1f}", False),
    ("tokens_per_second_b8", "Tokens/s, batch 8", "{:.1f}", False),
    ("bits_per_byte", "Bits per byte", "{:.4f}", True),
    ("perplexity", "Perplexity", "{:.2f}", True),
]
KEY_FIGURES = ("parameters", "weight_bytes", "bits_per_byte", "tokens_per_second_b8")


@dataclasses.dataclass
class Node:
    """One model of the family, through the commit that links it."""

    model: Model
    commit: Commit
    relation: str  # how `commit` derives from its base ("" for the root of the walk)
    depth: int  # < 0: an ancestor (-1 the direct base); 0 the model on show; > 0 a descendant
    base_model: str | None
    figures: dict

    def as_json(self) -> dict:
        return {"id": self.model.repo_id, "commit": self.commit.sha, "relation": self.relation or None,
                "depth": self.depth, "base_model": self.base_model,
                "figures": {key: self.figures.get(key) for key in (*KEY_FIGURES, "perplexity", "tokens_per_second_b1")},
                "evaluated_on": self.figures.get("device")}  # fmt: skip


def family(model: Model, commit: Commit | None, *, viewer) -> list[Node]:
    """Ancestors (oldest first), the model itself, then descendants (nearest first): one node per model, the latest
    commit of a descendant model that links it. Three queries; one when the model has no relatives."""
    if commit is None:
        return []
    found = [r for r in lineage.family(commit, model) if r.commit.model_id != model.pk]
    if not found:
        return []
    models = Model.objects.visible_to(viewer).select_related("owner").in_bulk({r.commit.model_id for r in found})
    up = [r for r in found if r.depth < 0 and r.commit.model_id in models]
    down: dict[int, lineage.Relative] = {}
    for relative in found:
        if relative.depth > 0 and relative.commit.model_id in models:
            down[relative.commit.model_id] = relative  # by depth, then id: the latest linking commit of each model wins
    models[model.pk] = model
    base = next((r.repo_id for r in up if r.depth == -1), None)  # the direct base, when the viewer may see it
    walk = [*up, lineage.Relative(commit=commit, depth=0, repo_id=model.repo_id, base_repo_id=base), *down.values()]
    figures = figures_of([r.commit for r in walk])
    return [Node(model=models[r.commit.model_id], commit=r.commit, relation=r.commit.base_relation, depth=r.depth,
                 base_model=r.base_repo_id, figures=figures.get(r.commit.pk, {})) for r in walk]  # fmt: skip


def figures_of(commits: list[Commit]) -> dict[int, dict]:
    """Each commit's standard-set figures (current set, succeeded) with the device they were measured on: one query."""
    rows = Evaluation.objects.standard(standard_set.load()).filter(
        commit__in=[c.pk for c in commits], status=EvaluationStatus.SUCCEEDED
    )
    return {row.commit_id: row.metrics | {"device": row.device} for row in rows}


@dataclasses.dataclass(frozen=True)
class Tradeoff:
    parent: Commit
    same_device: bool
    device: str
    rows: list[dict]


def tradeoff(commit: Commit | None) -> Tradeoff | None:
    """A compressed commit's figures beside its parent's, with their ratio (None for any other commit, or until both
    are evaluated). Ratios are given only when both were measured on the same device."""
    if commit is None or commit.base_relation not in COMPRESSED or commit.base_commit_id is None:
        return None
    parent = Commit.objects.select_related("model__owner").get(pk=commit.base_commit_id)
    found = figures_of([commit, parent])
    mine, theirs = found.get(commit.pk), found.get(parent.pk)
    if mine is None or theirs is None:
        return None
    same = mine["device"] == theirs["device"]
    rows = []
    for key, label, style, lower_better in TRADEOFF:
        value, before = mine.get(key), theirs.get(key)
        ratio = (
            value / before
            if same and isinstance(value, int | float) and isinstance(before, int | float) and before
            else None
        )
        rows.append({"key": key, "label": label, "value": show(value, style), "parent": show(before, style),
                     "ratio": f"{ratio:.2f}×" if ratio is not None else "—",
                     "better": None if ratio is None or ratio == 1 else (ratio < 1) == lower_better})  # fmt: skip
    return Tradeoff(parent=parent, same_device=same, device=mine["device"], rows=rows)


def show(value, style: str) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{value / 1e6:.2f} MB" if style == "mb" else style.format(value)
