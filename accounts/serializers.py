"""The JSON shapes of API keys."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from accounts.models import ApiKey, Scope


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TextField(serializers.CharField):
    """A CharField that takes only JSON strings: DRF's would turn `5` or `true` into "5" and "True"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class KnownFieldsOnly:
    """Refuse fields the serializer does not declare instead of ignoring them: a caller who sends `rpm_limit`
    to a route that does not set it must learn so, not believe it took effect."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))  # type: ignore[attr-defined]  # a Serializer's fields
            if unknown:
                raise serializers.ValidationError({unknown[0]: ["Unknown field: this route does not take it."]})
        return super().to_internal_value(data)  # type: ignore[misc]  # the Serializer this is mixed into


class ApiKeyCreateSerializer(KnownFieldsOnly, serializers.Serializer):
    name = TextField(
        max_length=100,
        trim_whitespace=False,  # "ci\n" is refused, not quietly trimmed
        validators=[
            RegexValidator(
                r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*\Z",
                "a visible character, and no control characters",
            )
        ],
    )
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), allow_empty=False,
                                   min_length=1)  # fmt: skip
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The secret. Shown once: store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields
