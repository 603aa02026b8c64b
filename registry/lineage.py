"""A commit's lineage as data: the commits it was derived from (its ancestors: base, base of the base...) and the
commits derived from it or from any commit of its model (its descendants), each walked in one recursive query on
`Commit.base_commit`. Each commit returned carries `depth` (1: the direct base or child) and `repo_id`."""

import dataclasses
from typing import Any

from django.db.models import F

from accounts.models import User
from registry.models import BaseRelation, Commit, Model

MAX_DEPTH = 64  # a cycle cannot be made through the API (a base exists before what derives from it); bounded anyway

_COLUMNS = "c.*, walk.depth AS depth, u.username || '/' || m.name AS repo_id"
_JOINS = f"""JOIN {Commit._meta.db_table} c ON c.id = walk.id
    JOIN {Model._meta.db_table} m ON m.id = c.model_id
    JOIN {User._meta.db_table} u ON u.id = m.owner_id"""


def ancestors(commit: Commit) -> list[Commit]:
    """The commits `commit` derives from, nearest first."""
    table = Commit._meta.db_table
    sql = f"""WITH RECURSIVE walk(id, depth) AS (
        SELECT base_commit_id, 1 FROM {table} WHERE id = %s AND base_commit_id IS NOT NULL
        UNION ALL
        SELECT p.base_commit_id, walk.depth + 1 FROM {table} p JOIN walk ON p.id = walk.id
        WHERE p.base_commit_id IS NOT NULL AND walk.depth < %s
    ) SELECT {_COLUMNS} FROM walk {_JOINS} ORDER BY walk.depth"""
    return list(Commit.objects.raw(sql, [commit.pk, MAX_DEPTH]))


def descendants(model: Model) -> list[Commit]:
    """The commits derived from any commit of `model`, then from those..., nearest first (then oldest first)."""
    table = Commit._meta.db_table
    sql = f"""WITH RECURSIVE walk(id, depth) AS (
        SELECT d.id, 1 FROM {table} d JOIN {table} own ON d.base_commit_id = own.id WHERE own.model_id = %s
        UNION ALL
        SELECT d.id, walk.depth + 1 FROM {table} d JOIN walk ON d.base_commit_id = walk.id WHERE walk.depth < %s
    ) SELECT {_COLUMNS} FROM walk {_JOINS} ORDER BY walk.depth, c.id"""
    return list(Commit.objects.raw(sql, [model.pk, MAX_DEPTH]))


@dataclasses.dataclass(frozen=True)
class Relative:
    """A commit of a model's family: `depth` < 0 an ancestor (-1 the direct base), > 0 a descendant (1 a child)."""

    commit: Commit
    depth: int
    repo_id: str
    base_repo_id: str | None  # the model of its base commit


def family(commit: Commit, model: Model) -> list[Relative]:
    """`ancestors(commit)` (depth -1 the nearest) and `descendants(model)` (depth 1 the nearest) in one query:
    ancestors oldest first, then descendants nearest first."""
    table = Commit._meta.db_table
    sql = f"""WITH RECURSIVE up(id, depth) AS (
        SELECT base_commit_id, 1 FROM {table} WHERE id = %s AND base_commit_id IS NOT NULL
        UNION ALL
        SELECT p.base_commit_id, up.depth + 1 FROM {table} p JOIN up ON p.id = up.id
        WHERE p.base_commit_id IS NOT NULL AND up.depth < %s
    ), down(id, depth) AS (
        SELECT d.id, 1 FROM {table} d JOIN {table} own ON d.base_commit_id = own.id WHERE own.model_id = %s
        UNION ALL
        SELECT d.id, down.depth + 1 FROM {table} d JOIN down ON d.base_commit_id = down.id WHERE down.depth < %s
    ), walk(id, depth) AS (SELECT id, -depth FROM up UNION ALL SELECT id, depth FROM down)
    SELECT {_COLUMNS}, bu.username || '/' || bm.name AS base_repo_id FROM walk {_JOINS}
    LEFT JOIN {table} b ON b.id = c.base_commit_id LEFT JOIN {Model._meta.db_table} bm ON bm.id = b.model_id
    LEFT JOIN {User._meta.db_table} bu ON bu.id = bm.owner_id
    ORDER BY walk.depth, c.id"""
    rows: list[Any] = list(Commit.objects.raw(sql, [commit.pk, MAX_DEPTH, model.pk, MAX_DEPTH]))  # with the extras
    return [Relative(commit=row, depth=row.depth, repo_id=row.repo_id, base_repo_id=row.base_repo_id) for row in rows]


# How HF Hub's model pages name a base model's children, by relation.
CHILDREN_LABELS = {BaseRelation.FINETUNE: "Fine-tunes", BaseRelation.ADAPTER: "Adapters", BaseRelation.MERGE: "Merges",
                   BaseRelation.QUANTIZED: "Quantizations", BaseRelation.PRUNED: "Pruned",
                   BaseRelation.DISTILLED: "Distilled"}  # fmt: skip


def children(model: Model, *, visible_to) -> list[tuple[str, list[Model]]]:
    """The models with a commit derived directly from a commit of `model` that the viewer may see (a private
    derivative stays unknown to others), grouped by relation as HF names them: one query."""
    found = (
        Model.objects.visible_to(visible_to).filter(commits__base_commit__model=model)
        .annotate(relation=F("commits__base_relation")).select_related("owner").order_by("relation", "owner__username",
                                                                                          "name").distinct()
    )  # fmt: skip
    grouped: dict[str, list[Model]] = {}
    for child in found:
        grouped.setdefault(CHILDREN_LABELS.get(child.relation, child.relation), []).append(child)
    return list(grouped.items())
