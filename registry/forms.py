from django import forms

from registry.models import model_name_validator


class NewModelForm(forms.Form):
    name = forms.CharField(max_length=96, validators=[model_name_validator])
    is_private = forms.BooleanField(required=False, label="Private")


class CardForm(forms.Form):
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 24}), required=False, max_length=200_000)


class ModelSettingsForm(forms.Form):
    description = forms.CharField(max_length=300, required=False, help_text="One line, shown under the name.")
    is_private = forms.BooleanField(
        required=False, label="Private", help_text="Only you can see, call or pull a private model; its listing leaves "
        "the store until it is public again."
    )  # fmt: skip


class DeleteModelForm(forms.Form):
    confirm = forms.CharField(max_length=200, label="Type the model's full name to confirm")

    def __init__(self, *args, repo_id: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.repo_id = repo_id

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"].strip() != self.repo_id:
            raise forms.ValidationError(f"Type {self.repo_id} exactly.")
        return self.repo_id
