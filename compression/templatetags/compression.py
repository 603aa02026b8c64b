"""{% compression_panel model commit user as family %}: the model page's lineage graph (every ancestor and
descendant the viewer may see, with key figures), its derived models, and a compressed commit's trade-off table
against its parent. The registry's page shows it without importing this app."""

from django import template

from compression import lineage
from registry.models import Commit, Model

register = template.Library()


@register.simple_tag
def compression_panel(model: Model, commit: Commit | None, user) -> dict | None:
    nodes = lineage.family(model, commit, viewer=user)
    if not nodes:
        return None
    return {
        "ancestors": [node for node in nodes if node.depth < 0],
        "this": next(node for node in nodes if node.depth == 0),
        "descendants": [node for node in nodes if node.depth > 0],
        "derived": [node for node in nodes if node.depth == 1],
        "tradeoff": lineage.tradeoff(commit),
    }


STYLES = {key: style for key, _, style, _ in lineage.TRADEOFF}  # how the trade-off table shows each figure


@register.filter
def figure(node: lineage.Node, key: str) -> str:
    return lineage.show(node.figures.get(key), STYLES[key])
