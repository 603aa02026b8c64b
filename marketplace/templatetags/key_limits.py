"""The keys page's limits column (the page is accounts'; a key's rates, spend and its cap are the marketplace's).

{% load key_limits %}{% key_limits api_keys as limits %}
... {% key_limits_cell key limits %}
"""

from django import template

from accounts.models import ApiKey
from marketplace.forms import KeyLimitsForm
from marketplace.money import format_credits
from marketplace.services import reports

register = template.Library()


@register.simple_tag
def key_limits(api_keys: list[ApiKey]) -> dict[int, dict]:
    """Each key's spend in its current period (one query for all of them) and its limits form."""
    spent = reports.keys_spend(api_keys=api_keys)
    return {api_key.pk: {"spent": spent[api_key.pk], "form": _limits_form(api_key)} for api_key in api_keys}


@register.inclusion_tag("marketplace/_key_limits.html")
def key_limits_cell(api_key: ApiKey, limits: dict[int, dict]) -> dict:
    return {"key": api_key, **limits[api_key.pk]}


def _limits_form(api_key: ApiKey) -> KeyLimitsForm:
    spend_limit = format_credits(api_key.spend_limit) if api_key.spend_limit is not None else ""
    initial = {"rpm_limit": api_key.rpm_limit, "tpm_limit": api_key.tpm_limit, "spend_limit": spend_limit,
               "spend_period": api_key.spend_period}  # fmt: skip
    return KeyLimitsForm(initial=initial, prefix=f"key{api_key.pk}")
