"""Forms of the account pages: sign-up and creating a key."""

from django import forms
from django.contrib.auth.forms import UserCreationForm, UsernameField

from accounts.models import Scope, User
from accounts.services import RESERVED_NAMESPACES


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False)

    class Meta:  # UserCreationForm.Meta, with the e-mail address
        model = User
        fields = ["username", "email"]
        field_classes = {"username": UsernameField}

    def clean_username(self):
        username = self.cleaned_data.get("username") or ""
        if username.lower() in RESERVED_NAMESPACES:
            raise forms.ValidationError(f"'{username}' is reserved.")
        return super().clean_username()


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple,
                                       initial=["read", "infer"])  # what a consumer needs to call models  # fmt: skip
    expires_at = forms.DateTimeField(required=False, help_text="Optional, UTC, e.g. 2027-01-31 00:00")
