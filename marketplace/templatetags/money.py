"""Template filters: `credits` shows micro-credits with as many decimals as they need and the exact amount on hover;
`split` splits on spaces."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from marketplace.money import format_credits, short_credits

register = template.Library()


@register.filter
def credits(value) -> SafeString:
    """12_500_000 -> <span title="12.500000 credits">12.5</span>: the page says the unit beside it."""
    micro = int(value or 0)
    return format_html(
        '<span class="credits" title="{} credits">{}</span>', format_credits(micro), short_credits(micro)
    )


@register.filter
def split(value: str) -> list[str]:
    return value.split()
