"""Template filters of the storefront: counts for people (1.4M, 12.5k) and amounts of credits with their unit.

{% load catalogue %}{{ stats.parameters|count }}  {% amount card.prompt_price %}
"""

from django import template
from django.utils.html import format_html

from marketplace.money import format_credits, short_credits
from registry.humanize import short_count

register = template.Library()


@register.filter
def without(tags, shown) -> list[str]:
    """The card's tags that the listing's own tags do not already show (each appeared twice on the model panel)."""
    already = {str(tag).lower() for tag in shown or ()}
    return [tag for tag in tags or () if str(tag).lower() not in already]


@register.filter
def count(value) -> str:
    """1_354_752 -> '1.35M', 12_480 -> '12.5k', 950 -> '950'; '—' when unknown."""
    return "—" if value is None or value == "" else short_count(value)


@register.simple_tag
def amount(micro, unit: str = "credits") -> str:
    """An amount as many decimals as it needs, with its unit, and the exact value on hover."""
    micro = int(micro or 0)
    suffix = f" {unit}" if unit else ""
    return format_html('<span class="amount" title="{}{}">{}{}</span>', format_credits(micro), suffix,
                       short_credits(micro), suffix)  # fmt: skip
