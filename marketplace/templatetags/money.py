"""Template filters: `credits` shows micro-credits as a decimal string; `split` splits on spaces."""

from django import template

from marketplace.money import format_credits

register = template.Library()


@register.filter
def credits(value) -> str:
    return format_credits(int(value or 0))


@register.filter
def split(value: str) -> list[str]:
    return value.split()
