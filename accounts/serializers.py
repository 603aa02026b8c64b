"""The JSON shapes of API keys."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from accounts.models import ApiKey, Scope


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100, validators=[RegexValidator(r"^[^\x00]*[^\s\x00][^\x00]*$", "a visible character, and no NUL")]
    )
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), allow_empty=False,
                                   min_length=1)  # fmt: skip
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The secret. Shown once: store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields
