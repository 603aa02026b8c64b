"""Forms of the marketplace pages: credits, key limits, listings."""

from django import forms

from accounts.models import SpendPeriod
from core.exceptions import InvalidInput
from marketplace.models import Category
from marketplace.money import parse_credits


class CreditsField(forms.CharField):
    """Credits typed as a decimal ('12.5'), cleaned to micro-credits with the same rules as the API."""

    def __init__(self, *, minimum: int = 0, maximum: int | None = None, **kwargs):
        self.minimum, self.maximum = minimum, maximum
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in ("", None):
            return None
        try:
            return parse_credits(value, param="amount", minimum=self.minimum, maximum=self.maximum)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message.replace("amount ", "", 1)) from None


class TopUpForm(forms.Form):
    amount = CreditsField(minimum=1, help_text="Credits to buy, e.g. 10 or 2.5")


class PayoutForm(forms.Form):
    amount = CreditsField(minimum=1, help_text="Credits to be paid out")


class KeyLimitsForm(forms.Form):
    rpm_limit = forms.IntegerField(required=False, min_value=1, label="Requests per minute")
    tpm_limit = forms.IntegerField(required=False, min_value=1, label="Tokens per minute")
    spend_limit = CreditsField(required=False, label="Spend limit (credits)")
    spend_period = forms.ChoiceField(choices=SpendPeriod.choices)


class ListingForm(forms.Form):
    title = forms.CharField(max_length=120)
    summary = forms.CharField(max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    category = forms.ChoiceField(choices=Category.choices)
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. chat, small")
    license = forms.CharField(max_length=64, initial="other", help_text="An SPDX id such as mit or apache-2.0")
    is_downloadable = forms.BooleanField(required=False, label="Consumers may download the weights")
    revision = forms.CharField(max_length=100, initial="main", help_text="A branch (follows its newest valid "
                               "commit), a tag or a commit sha")  # fmt: skip
    prompt_price = forms.CharField(max_length=32, initial="0", label="Credits per 1M prompt tokens")
    completion_price = forms.CharField(max_length=32, initial="0", label="Credits per 1M completion tokens")
    download_price = forms.CharField(max_length=32, initial="0", label="Credits per download")
