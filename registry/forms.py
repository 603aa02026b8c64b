from django import forms

from registry.models import model_name_validator


class NewModelForm(forms.Form):
    name = forms.CharField(max_length=96, validators=[model_name_validator])
    is_private = forms.BooleanField(required=False, label="Private")


class CardForm(forms.Form):
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 24}), required=False, max_length=200_000)
