from django.core.validators import RegexValidator
from rest_framework import serializers

from marketplace.models import ApiKey, Scope


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100, validators=[RegexValidator(r"^[^\x00]*\S[^\x00]*$", "a visible character, and no NUL")]
    )
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), allow_empty=False,
                                   min_length=1)  # fmt: skip
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The secret. Shown once: store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class CreditsSerializer(serializers.Serializer):
    balance = serializers.CharField(help_text="Credits in the wallet, as a decimal string.")
    total_credits = serializers.CharField(help_text="Credits bought, net of refunded top-ups.")
    total_usage = serializers.CharField(help_text="Credits spent on calls, net of refunds.")


class CreditsResponseSerializer(serializers.Serializer):
    data = CreditsSerializer()


class UsageRowSerializer(serializers.Serializer):
    day = serializers.DateField(required=False)
    model = serializers.CharField(required=False)
    key_id = serializers.IntegerField(required=False)
    key_name = serializers.CharField(required=False)
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost = serializers.CharField()


class UsageResponseSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.ChoiceField(choices=["day", "model", "key"])
    data = UsageRowSerializer(many=True)
